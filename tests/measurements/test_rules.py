"""The measurement rules, tested at every boundary the SPEC draws (§3.2 follow-up, §6 HbA1c)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from apps.core.errors import DomainError
from apps.measurements.rules import (
    DEFAULT_FOLLOW_UP_SET,
    DEFAULT_TYPES,
    LOINC,
    TYPES,
    UNIT_LOINC,
    Conversion,
    MeasurementRefused,
    TypeSpec,
    bmi_from,
    due_dates,
    exclusion_due,
    hba1c_mmol_to_percent,
    hba1c_percent_to_mmol,
    is_overdue,
    missing_types,
    next_due,
    reminder_due,
    set_complete,
    to_canonical,
    window_for,
)

D = Decimal
HBA1C = TYPES["hba1c"]


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def refusal(spec: TypeSpec, value: Decimal | int | str, unit: str) -> MeasurementRefused:
    with pytest.raises(MeasurementRefused) as caught:
        to_canonical(spec, value, unit)
    return caught.value


# ---------------------------------------------------------------- HbA1c conversion


@pytest.mark.parametrize(
    ("percent", "mmol"),
    [
        (D("6.0"), D("42.1")),  # 3.85 × 10.929 = 42.07665
        (D("5.7"), D("38.8")),  # 3.55 × 10.929 = 38.79795
        (D("6.5"), D("47.5")),  # 4.35 × 10.929 = 47.54115
        (D("6.54"), D("48.0")),  # 4.39 × 10.929 = 47.97831
        (D("2.15"), D("0.0")),
    ],
)
def test_hba1c_percent_converts_to_mmol_per_mol_rounded_to_one_decimal(percent, mmol):
    assert hba1c_percent_to_mmol(percent) == mmol
    assert str(hba1c_percent_to_mmol(percent)) == str(mmol)


def test_hba1c_48_mmol_per_mol_is_6_54_percent_and_back():
    assert hba1c_mmol_to_percent(D("48")) == D("6.54")  # 48 / 10.929 + 2.15 = 6.5419…
    assert hba1c_percent_to_mmol(D("6.54")) == D("48.0")


def test_hba1c_42_mmol_per_mol_is_6_0_percent():
    assert hba1c_mmol_to_percent(D("42")) == D("5.99")  # 42 / 10.929 + 2.15 = 5.9929…
    assert hba1c_mmol_to_percent(D("42.1")) == D("6.00")


def test_to_canonical_converts_hba1c_percent_like_the_helper():
    assert to_canonical(HBA1C, D("6.0"), "%") == D("42.1")
    assert to_canonical(HBA1C, D("5.7"), "%") == D("38.8")


def test_to_canonical_keeps_mmol_per_mol_and_rounds_half_up_to_one_decimal():
    assert to_canonical(HBA1C, D("48"), "mmol/mol") == D("48.0")
    assert to_canonical(HBA1C, D("41.95"), "mmol/mol") == D("42.0")
    assert to_canonical(HBA1C, D("41.94"), "mmol/mol") == D("41.9")


@given(st.decimals(min_value=D("3.50"), max_value=D("19.00"), places=4))
def test_hba1c_percent_round_trips_through_mmol_per_mol_within_0_01(percent):
    back = hba1c_mmol_to_percent(hba1c_percent_to_mmol(percent))
    assert abs(back - percent) <= D("0.01")


# ---------------------------------------------------------------- other units


@pytest.mark.parametrize(
    ("code", "value", "unit", "canonical"),
    [
        ("triglycerides", D("150"), "mg/dL", D("1.69")),  # 1.6935
        ("triglycerides", D("177"), "mg/dL", D("2.00")),  # 1.99833
        ("triglycerides", D("500"), "mg/dL", D("5.65")),  # 5.645: half up, not half even
        ("triglycerides", D("1.694"), "mmol/L", D("1.69")),
        ("cholesterol_total", D("200"), "mg/dL", D("5.17")),  # 5.172
        ("cholesterol_total", D("250"), "mg/dL", D("6.47")),  # 6.465: half up
        ("ldl", D("130"), "mg/dL", D("3.36")),  # 3.3618
        ("hdl", D("50"), "mg/dL", D("1.29")),  # 1.293
        ("weight", D("72450"), "g", D("72.5")),  # 72.45: half up
        ("weight", D("80000"), "g", D("80.0")),
        ("weight", D("80"), "kg", D("80.0")),
        ("height", D("1.755"), "m", D("175.5")),
        ("height", D("1.8"), "m", D("180.0")),
        ("height", D("180"), "cm", D("180.0")),
        ("bmi", D("27.35"), "kg/m2", D("27.4")),
        ("waist", D("94"), "cm", D("94.0")),
        ("findrisc", D("12"), "score", D("12")),
        ("bp_systolic", D("120"), "mm[Hg]", D("120")),
        ("bp_systolic", D("120"), "mmHg", D("120")),
        ("bp_diastolic", D("79.5"), "mmHg", D("80")),
    ],
)
def test_each_accepted_unit_converts_to_the_canonical_value(code, value, unit, canonical):
    result = to_canonical(TYPES[code], value, unit)
    assert result == canonical
    assert result.as_tuple().exponent == -TYPES[code].decimal_places


@pytest.mark.parametrize(
    ("code", "value", "unit", "canonical"),
    [
        ("hba1c", D("44"), "MMOL/MOL", D("44.0")),
        ("hba1c", D("6.0"), "  %  ", D("42.1")),
        ("triglycerides", D("1.5"), "mmol/l", D("1.50")),
        ("triglycerides", D("150"), "MG/DL", D("1.69")),
        ("bp_systolic", D("120"), "MMHG", D("120")),
        ("weight", D("80"), " KG", D("80.0")),
    ],
)
def test_units_match_after_strip_and_ignoring_case(code, value, unit, canonical):
    assert to_canonical(TYPES[code], value, unit) == canonical


def test_units_must_otherwise_match_exactly():
    assert refusal(HBA1C, D("42"), "mmol / mol").code == "unknown_unit"
    assert refusal(TYPES["triglycerides"], D("1"), "mmol").code == "unknown_unit"


def test_an_unknown_unit_is_refused_with_a_message_naming_it_and_the_accepted_units():
    error = refusal(HBA1C, D("42"), " mg ")
    assert error.code == "unknown_unit"
    assert error.field == "hba1c"
    assert str(error.message) == (
        "The unit “mg” is not accepted for HbA1c. Accepted units: mmol/mol, %."
    )


def test_the_unknown_unit_message_lists_every_accepted_unit_of_the_type():
    message = str(refusal(TYPES["bp_systolic"], D("120"), "kPa").message)
    assert "kPa" in message
    assert "mm[Hg], mmHg" in message
    assert "mmol/L, mg/dL" in str(refusal(TYPES["ldl"], D("3"), "g/L").message)


def test_the_canonical_unit_is_accepted_even_when_no_conversion_lists_it():
    spec = TypeSpec("x", "u", 0, D("0"), D("10"), (Conversion("v", multiply=D("2")),))
    assert spec.accepted_units == ("u", "v")
    assert to_canonical(spec, D("3"), "U") == D("3")
    assert to_canonical(spec, D("3"), "v") == D("6")


def test_a_refusal_is_a_value_error_and_a_domain_error_with_the_field_in_its_shape():
    error = refusal(HBA1C, D("250"), "mmol/mol")
    assert isinstance(error, ValueError)
    assert isinstance(error, DomainError)
    body = error.as_dict()["error"]
    assert body["code"] == "out_of_range"
    assert body["fields"] == {"hba1c": [str(error.message)]}


def test_the_caller_may_name_the_field_a_refusal_is_about():
    with pytest.raises(MeasurementRefused) as caught:
        to_canonical(HBA1C, D("250"), "mmol/mol", field="value")
    assert caught.value.field == "value"


@pytest.mark.parametrize("value", ["abc", "", D("NaN"), D("Infinity"), D("-Infinity"), True])
def test_something_that_is_not_a_finite_number_is_refused_as_not_a_number(value):
    error = refusal(HBA1C, value, "mmol/mol")
    assert error.code == "not_a_number"
    assert error.field == "hba1c"


def test_a_float_is_a_programming_error():
    with pytest.raises(TypeError):
        to_canonical(HBA1C, 42.0, "mmol/mol")


def test_a_string_is_read_with_a_decimal_point_or_a_decimal_comma():
    assert to_canonical(HBA1C, " 6,5 ", "%") == D("47.5")
    assert to_canonical(HBA1C, "44.5", "mmol/mol") == D("44.5")
    assert to_canonical(HBA1C, 44, "mmol/mol") == D("44.0")


# ---------------------------------------------------------------- plausible ranges


@pytest.mark.parametrize("spec", DEFAULT_TYPES, ids=lambda spec: spec.code)
def test_each_type_accepts_its_minimum_and_maximum(spec):
    assert to_canonical(spec, spec.plausible_min, spec.canonical_unit) == spec.plausible_min
    assert to_canonical(spec, spec.plausible_max, spec.canonical_unit) == spec.plausible_max


@pytest.mark.parametrize("spec", DEFAULT_TYPES, ids=lambda spec: spec.code)
def test_each_type_refuses_one_step_below_its_minimum_with_the_value_and_range(spec):
    below = spec.plausible_min - spec.quantum
    error = refusal(spec, below, spec.canonical_unit)
    assert error.code == "out_of_range"
    message = str(error.message)
    assert f"{format(below, 'f')} {spec.canonical_unit}" in message
    low, high = format(spec.plausible_min, "f"), format(spec.plausible_max, "f")
    assert f"{low}–{high} {spec.canonical_unit}" in message
    assert str(spec.display_name) in message


@pytest.mark.parametrize("spec", DEFAULT_TYPES, ids=lambda spec: spec.code)
def test_each_type_refuses_one_step_above_its_maximum_with_the_value_and_range(spec):
    above = spec.plausible_max + spec.quantum
    error = refusal(spec, above, spec.canonical_unit)
    assert error.code == "out_of_range"
    message = str(error.message)
    assert f"{format(above, 'f')} {spec.canonical_unit}" in message
    low, high = format(spec.plausible_min, "f"), format(spec.plausible_max, "f")
    assert f"{low}–{high} {spec.canonical_unit}" in message


def test_the_range_message_reads_as_a_sentence():
    assert str(refusal(HBA1C, D("250"), "mmol/mol").message) == (
        "HbA1c 250 mmol/mol is outside the plausible range 15–195 mmol/mol."
    )
    assert str(refusal(TYPES["weight"], D("400"), "kg").message) == (
        "Weight 400 kg is outside the plausible range 25–350 kg."
    )


def test_a_value_is_rounded_before_its_range_is_checked():
    assert to_canonical(HBA1C, D("14.95"), "mmol/mol") == D("15.0")
    assert refusal(HBA1C, D("14.94"), "mmol/mol").code == "out_of_range"


def test_a_percent_hba1c_is_range_checked_after_conversion():
    # 20 % → 17.85 × 10.929 = 195.08… → 195.1 mmol/mol, above 195 although 20 looks small.
    error = refusal(HBA1C, D("20"), "%")
    assert error.code == "out_of_range"
    assert str(error.message) == (
        "HbA1c 20 % (195.1 mmol/mol) is outside the plausible range 15–195 mmol/mol."
    )
    # 19.99 % → 194.97… → 195.0: accepted; 3.5 % → 14.75… → 14.8: refused.
    assert to_canonical(HBA1C, D("19.99"), "%") == D("195.0")
    assert refusal(HBA1C, D("3.5"), "%").code == "out_of_range"
    # A value that is plausible in mmol/mol is not plausible as a percentage.
    assert refusal(HBA1C, D("42"), "%").code == "out_of_range"


def test_a_gram_weight_is_range_checked_in_kilograms():
    assert to_canonical(TYPES["weight"], D("25000"), "g") == D("25.0")
    assert refusal(TYPES["weight"], D("24940"), "g").code == "out_of_range"


def test_an_absurdly_large_value_is_out_of_range_not_a_crash():
    assert refusal(HBA1C, D("1E+40"), "mmol/mol").code == "out_of_range"
    assert refusal(HBA1C, D("-1E+40"), "%").code == "out_of_range"


# ---------------------------------------------------------------- BMI and the type table


def test_bmi_is_weight_over_height_squared_rounded_half_up_to_one_decimal():
    assert bmi_from(weight_kg=D("80"), height_cm=D("180")) == D("24.7")  # 24.691…
    assert bmi_from(weight_kg=D("81"), height_cm=D("180")) == D("25.0")  # 25.0
    assert bmi_from(weight_kg=D("64.8"), height_cm=D("160")) == D("25.3")  # 25.3125
    assert bmi_from(weight_kg=D("100"), height_cm=D("200")) == D("25.0")


def test_bmi_needs_a_positive_weight_and_height():
    with pytest.raises(MeasurementRefused) as caught:
        bmi_from(weight_kg=D("80"), height_cm=D("0"))
    assert caught.value.field == "height"
    with pytest.raises(MeasurementRefused) as caught:
        bmi_from(weight_kg=D("NaN"), height_cm=D("180"))
    assert caught.value.code == "not_a_number"


def test_every_type_has_a_loinc_entry_and_findrisc_has_none():
    assert set(LOINC) == set(TYPES)
    assert LOINC["hba1c"] == "59261-8"
    assert LOINC["findrisc"] == ""
    assert UNIT_LOINC == {"4548-4": ("hba1c", "%"), "59261-8": ("hba1c", "mmol/mol")}


def test_the_unit_loinc_codes_name_accepted_units():
    for code, unit in UNIT_LOINC.values():
        assert to_canonical(TYPES[code], D("6.0") if unit == "%" else D("42"), unit)


def test_the_default_follow_up_set_is_made_of_known_types():
    assert set(DEFAULT_FOLLOW_UP_SET) <= set(TYPES)
    assert TYPES["bmi"].derived_from == ("weight", "height")


# ---------------------------------------------------------------- due dates


def test_due_dates_from_31_january_are_anchored_on_enrollment_not_chained():
    assert due_dates(enrolled_on=date(2027, 1, 31), interval_months=3, programme_months=24) == [
        date(2027, 4, 30), date(2027, 7, 31), date(2027, 10, 31), date(2028, 1, 31),
        date(2028, 4, 30), date(2028, 7, 31), date(2028, 10, 31), date(2029, 1, 31),
    ]


def test_monthly_due_dates_from_31_january_end_february_in_common_and_leap_years():
    due = due_dates(enrolled_on=date(2027, 1, 31), interval_months=1, programme_months=24)
    assert due[0] == date(2027, 2, 28)
    assert due[1] == date(2027, 3, 31)
    assert due[12] == date(2028, 2, 29)
    assert len(due) == 24


def test_due_dates_from_30_november_reach_29_february_in_a_leap_year():
    assert due_dates(enrolled_on=date(2027, 11, 30), interval_months=3, programme_months=24) == [
        date(2028, 2, 29), date(2028, 5, 30), date(2028, 8, 30), date(2028, 11, 30),
        date(2029, 2, 28), date(2029, 5, 30), date(2029, 8, 30), date(2029, 11, 30),
    ]


def test_due_dates_from_29_february_fall_on_28_february_in_common_years():
    due = due_dates(enrolled_on=date(2028, 2, 29), interval_months=3, programme_months=48)
    assert due[:4] == [date(2028, 5, 29), date(2028, 8, 29), date(2028, 11, 29), date(2029, 2, 28)]
    assert due[7] == date(2030, 2, 28)
    assert due[15] == date(2032, 2, 29)


def test_due_dates_from_31_august_are_clamped_to_each_month_end():
    assert due_dates(enrolled_on=date(2027, 8, 31), interval_months=3, programme_months=24) == [
        date(2027, 11, 30), date(2028, 2, 29), date(2028, 5, 31), date(2028, 8, 31),
        date(2028, 11, 30), date(2029, 2, 28), date(2029, 5, 31), date(2029, 8, 31),
    ]


def test_due_dates_count_only_whole_intervals_in_the_programme():
    assert len(due_dates(enrolled_on=date(2027, 1, 1), interval_months=5, programme_months=24)) == 4
    assert due_dates(enrolled_on=date(2027, 1, 1), interval_months=3, programme_months=2) == []


def test_due_dates_need_a_positive_interval_and_a_non_negative_programme():
    with pytest.raises(ValueError):
        due_dates(enrolled_on=date(2027, 1, 1), interval_months=0, programme_months=24)
    with pytest.raises(ValueError):
        due_dates(enrolled_on=date(2027, 1, 1), interval_months=3, programme_months=-1)


# ---------------------------------------------------------------- windows and completeness

ENROLLED = date(2027, 1, 31)
DUE = due_dates(enrolled_on=ENROLLED, interval_months=3, programme_months=24)


def test_the_first_window_runs_from_the_day_after_enrollment_to_the_first_due_date():
    assert window_for(DUE, 0, enrolled_on=ENROLLED) == (date(2027, 2, 1), date(2027, 4, 30))


def test_later_windows_run_from_the_day_after_the_previous_due_date():
    assert window_for(DUE, 1, enrolled_on=ENROLLED) == (date(2027, 5, 1), date(2027, 7, 31))
    assert window_for(DUE, 7, enrolled_on=ENROLLED) == (date(2028, 11, 1), date(2029, 1, 31))


def test_windows_cover_every_day_once():
    day = ENROLLED + timedelta(days=1)
    for index in range(len(DUE)):
        start, end = window_for(DUE, index, enrolled_on=ENROLLED)
        assert start == day
        day = end + timedelta(days=1)


@pytest.mark.parametrize("index", [-1, 8])
def test_a_window_for_a_due_date_that_does_not_exist_is_an_error(index):
    with pytest.raises(IndexError):
        window_for(DUE, index, enrolled_on=ENROLLED)


START, END = date(2027, 2, 1), date(2027, 4, 30)
REQUIRED = ("hba1c", "ldl", "weight")


def test_a_set_with_every_required_type_in_the_window_is_complete():
    taken = {"hba1c": [START], "ldl": [END], "weight": [date(2027, 3, 1)], "waist": []}
    assert set_complete(REQUIRED, taken, START, END)
    assert missing_types(REQUIRED, taken, START, END) == []


def test_a_set_with_one_type_missing_is_incomplete_and_names_it():
    taken = {"hba1c": [START], "weight": [END]}
    assert not set_complete(REQUIRED, taken, START, END)
    assert missing_types(REQUIRED, taken, START, END) == ["ldl"]


def test_values_just_outside_the_window_do_not_count():
    taken = {
        "hba1c": [START - timedelta(days=1)],
        "ldl": [END + timedelta(days=1)],
        "weight": [START],
    }
    assert missing_types(REQUIRED, taken, START, END) == ["hba1c", "ldl"]


def test_missing_types_are_sorted_and_an_empty_requirement_is_complete():
    assert missing_types(("weight", "hba1c", "ldl"), {}, START, END) == ["hba1c", "ldl", "weight"]
    assert set_complete((), {}, START, END)


def test_taken_dates_may_be_any_iterable():
    taken = {"hba1c": iter([START]), "ldl": (END,), "weight": {START}}
    assert set_complete(REQUIRED, taken, START, END)


# ---------------------------------------------------------------- next due and deadlines


def test_next_due_is_the_first_due_date_on_or_after_today():
    assert next_due(DUE, date(2027, 2, 1)) == date(2027, 4, 30)
    assert next_due(DUE, date(2027, 4, 30)) == date(2027, 4, 30)
    assert next_due(DUE, date(2027, 5, 1)) == date(2027, 7, 31)
    assert next_due(DUE, date(2029, 2, 1)) is None
    assert next_due([], date(2027, 1, 1)) is None


DUE_DAY = date(2027, 4, 30)


def test_an_incomplete_set_is_not_overdue_on_its_due_day_but_is_the_day_after():
    assert not is_overdue(DUE_DAY, False, DUE_DAY)
    assert is_overdue(DUE_DAY, False, DUE_DAY + timedelta(days=1))


def test_a_complete_set_is_never_overdue():
    assert not is_overdue(DUE_DAY, True, DUE_DAY + timedelta(days=365))


def test_exclusion_is_due_the_day_after_the_grace_period_ends():
    grace = 30
    assert not exclusion_due(DUE_DAY, False, DUE_DAY + timedelta(days=grace), grace)
    assert exclusion_due(DUE_DAY, False, DUE_DAY + timedelta(days=grace + 1), grace)
    assert not exclusion_due(DUE_DAY, True, DUE_DAY + timedelta(days=grace + 1), grace)


def test_with_no_grace_exclusion_is_due_the_day_after_the_due_date():
    assert not exclusion_due(DUE_DAY, False, DUE_DAY, 0)
    assert exclusion_due(DUE_DAY, False, DUE_DAY + timedelta(days=1), 0)


def test_a_reminder_is_due_exactly_on_its_day_and_not_the_day_before_or_after():
    assert reminder_due(DUE_DAY, DUE_DAY - timedelta(days=14), 14)
    assert not reminder_due(DUE_DAY, DUE_DAY - timedelta(days=15), 14)
    assert not reminder_due(DUE_DAY, DUE_DAY - timedelta(days=13), 14)
    assert reminder_due(DUE_DAY, DUE_DAY, 0)


def test_negative_grace_or_lead_time_is_an_error():
    with pytest.raises(ValueError):
        exclusion_due(DUE_DAY, False, DUE_DAY, -1)
    with pytest.raises(ValueError):
        reminder_due(DUE_DAY, DUE_DAY, -1)
