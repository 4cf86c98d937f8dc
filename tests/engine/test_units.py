"""Units, conversions, plausible ranges and BMI (SPEC §3.2, §6), at every boundary."""

from __future__ import annotations

from decimal import Decimal

import pytest

from prevention_engine.units import (
    DEFAULT_MEASURES,
    MEASURES,
    NOT_A_NUMBER,
    OUT_OF_RANGE,
    UNKNOWN_UNIT,
    Conversion,
    MeasureSpec,
    ValueRefused,
    body_mass_index,
    find_conversion,
    plausible,
    to_canonical,
)

D = Decimal
HBA1C = MEASURES["hba1c"]


def refusal(spec: MeasureSpec, value: Decimal | int | str, unit: str) -> ValueRefused:
    with pytest.raises(ValueRefused) as caught:
        to_canonical(spec, value, unit)
    return caught.value


# ---------------------------------------------------------------- HbA1c


@pytest.mark.parametrize(
    ("percent", "mmol"),
    [
        (D("6.0"), D("42.1")),  # 3.85 × 10.929 = 42.07665
        (D("5.7"), D("38.8")),  # 3.55 × 10.929 = 38.79795
        (D("6.5"), D("47.5")),  # 4.35 × 10.929 = 47.54115
        (D("6.54"), D("48.0")),  # 4.39 × 10.929 = 47.97831
    ],
)
def test_hba1c_percent_converts_to_mmol_per_mol_rounded_to_one_decimal(percent, mmol):
    assert to_canonical(HBA1C, percent, "%") == mmol
    assert str(to_canonical(HBA1C, percent, "%")) == str(mmol)


def test_hba1c_in_mmol_per_mol_is_kept_and_rounded_half_up_to_one_decimal():
    assert to_canonical(HBA1C, D("48"), "mmol/mol") == D("48.0")
    assert to_canonical(HBA1C, D("41.95"), "mmol/mol") == D("42.0")
    assert to_canonical(HBA1C, D("41.94"), "mmol/mol") == D("41.9")


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
    result = to_canonical(MEASURES[code], value, unit)
    assert result == canonical
    assert result.as_tuple().exponent == -MEASURES[code].decimal_places


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
    assert to_canonical(MEASURES[code], value, unit) == canonical


def test_units_must_otherwise_match_exactly():
    assert refusal(HBA1C, D("42"), "mmol / mol").code == UNKNOWN_UNIT
    assert refusal(MEASURES["triglycerides"], D("1"), "mmol").code == UNKNOWN_UNIT
    assert find_conversion(HBA1C, "mmol / mol") is None


def test_an_unknown_unit_is_refused_naming_it_and_the_accepted_units():
    error = refusal(HBA1C, D("42"), " mg ")
    assert (error.code, error.quantity, error.unit) == (UNKNOWN_UNIT, "hba1c", "mg")
    assert error.accepted_units == ("mmol/mol", "%")
    assert isinstance(error, ValueError)


def test_the_accepted_units_list_the_canonical_unit_first_without_duplicates():
    assert MEASURES["bp_systolic"].accepted_units == ("mm[Hg]", "mmHg")
    assert MEASURES["ldl"].accepted_units == ("mmol/L", "mg/dL")
    spec = MeasureSpec("x", "u", 0, D("0"), D("10"), (Conversion("U"), Conversion("v")))
    assert spec.accepted_units == ("u", "v")


def test_the_canonical_unit_is_accepted_even_when_no_conversion_lists_it():
    spec = MeasureSpec("x", "u", 0, D("0"), D("10"), (Conversion("v", multiply=D("2")),))
    assert spec.accepted_units == ("u", "v")
    assert to_canonical(spec, D("3"), "U") == D("3")
    assert to_canonical(spec, D("3"), "v") == D("6")


@pytest.mark.parametrize("value", ["abc", "", D("NaN"), D("Infinity"), D("-Infinity"), True])
def test_something_that_is_not_a_finite_number_is_refused_as_not_a_number(value):
    error = refusal(HBA1C, value, "mmol/mol")
    assert (error.code, error.quantity, error.value) == (NOT_A_NUMBER, "hba1c", value)


def test_a_float_is_a_programming_error():
    with pytest.raises(TypeError):
        to_canonical(HBA1C, 42.0, "mmol/mol")


def test_a_string_is_read_with_a_decimal_point_or_a_decimal_comma():
    assert to_canonical(HBA1C, " 6,5 ", "%") == D("47.5")
    assert to_canonical(HBA1C, "44.5", "mmol/mol") == D("44.5")
    assert to_canonical(HBA1C, 44, "mmol/mol") == D("44.0")


# ---------------------------------------------------------------- plausible ranges


@pytest.mark.parametrize("spec", DEFAULT_MEASURES, ids=lambda spec: spec.code)
def test_each_measure_accepts_its_minimum_and_maximum(spec):
    assert to_canonical(spec, spec.plausible_min, spec.canonical_unit) == spec.plausible_min
    assert to_canonical(spec, spec.plausible_max, spec.canonical_unit) == spec.plausible_max
    assert plausible(spec, spec.plausible_min) and plausible(spec, spec.plausible_max)


@pytest.mark.parametrize("spec", DEFAULT_MEASURES, ids=lambda spec: spec.code)
def test_each_measure_refuses_one_step_outside_its_range_with_the_numbers(spec):
    for outside in (spec.plausible_min - spec.quantum, spec.plausible_max + spec.quantum):
        error = refusal(spec, outside, spec.canonical_unit)
        assert error.code == OUT_OF_RANGE
        assert (error.number, error.unit, error.canonical) == (
            outside, spec.canonical_unit, outside)
        assert (error.low, error.high) == (spec.plausible_min, spec.plausible_max)
        assert not plausible(spec, outside)


def test_the_default_hba1c_range_is_15_to_195_mmol_per_mol():
    assert (HBA1C.plausible_min, HBA1C.plausible_max) == (D("15"), D("195"))
    assert not plausible(HBA1C, D("14.9")) and plausible(HBA1C, D("15"))
    assert plausible(HBA1C, D("195")) and not plausible(HBA1C, D("195.1"))


def test_a_value_is_rounded_before_its_range_is_checked():
    assert to_canonical(HBA1C, D("14.95"), "mmol/mol") == D("15.0")
    assert refusal(HBA1C, D("14.94"), "mmol/mol").code == OUT_OF_RANGE


def test_a_percent_hba1c_is_range_checked_after_conversion():
    # 20 % → 17.85 × 10.929 = 195.08… → 195.1 mmol/mol, above 195 although 20 looks small.
    error = refusal(HBA1C, D("20"), "%")
    assert (error.code, error.number, error.unit, error.canonical) == (
        OUT_OF_RANGE, D("20"), "%", D("195.1"))
    # 19.99 % → 194.97… → 195.0: accepted; 3.5 % → 14.75… → 14.8: refused.
    assert to_canonical(HBA1C, D("19.99"), "%") == D("195.0")
    assert refusal(HBA1C, D("3.5"), "%").code == OUT_OF_RANGE
    # A value that is plausible in mmol/mol is not plausible as a percentage.
    assert refusal(HBA1C, D("42"), "%").code == OUT_OF_RANGE


def test_a_gram_weight_is_range_checked_in_kilograms():
    assert to_canonical(MEASURES["weight"], D("25000"), "g") == D("25.0")
    assert refusal(MEASURES["weight"], D("24940"), "g").code == OUT_OF_RANGE


def test_an_absurdly_large_value_is_out_of_range_not_a_crash():
    error = refusal(HBA1C, D("1E+40"), "mmol/mol")
    assert (error.code, error.canonical) == (OUT_OF_RANGE, None)
    assert refusal(HBA1C, D("-1E+40"), "%").code == OUT_OF_RANGE


def test_bmi_is_derived_from_weight_and_height():
    assert MEASURES["bmi"].derived_from == ("weight", "height")


# ---------------------------------------------------------------- BMI


@pytest.mark.parametrize("weight,height,bmi", [
    ("80", "180", "24.7"),      # 24.691...
    ("81", "180", "25.0"),      # 25.0
    ("97.2", "180", "30.0"),
    ("75", "173.2", "25.0"),    # 25.0016...
    ("100", "200", "25.0"),
    ("72.9", "170.8", "25.0"),  # 24.9894... rounds to 25.0
    ("64.8", "160", "25.3"),    # 25.3125
])
def test_bmi_is_kilograms_per_square_metre_to_one_decimal(
    weight: str, height: str, bmi: str
) -> None:
    assert body_mass_index(weight_kg=D(weight), height_cm=D(height)) == D(bmi)


def test_bmi_rounds_an_exact_half_up() -> None:
    # 25.25 exactly: 0.0025 * 10000 = 25.25 with height 100 cm
    assert body_mass_index(weight_kg=D("25.25"), height_cm=D("100")) == D("25.3")
    assert body_mass_index(weight_kg=D("25.35"), height_cm=D("100")) == D("25.4")


@pytest.mark.parametrize("weight,height,quantity,code", [
    ("0", "170", "weight_kg", OUT_OF_RANGE), ("-70", "170", "weight_kg", OUT_OF_RANGE),
    ("70", "0", "height_cm", OUT_OF_RANGE), ("70", "-170", "height_cm", OUT_OF_RANGE),
    ("NaN", "170", "weight_kg", NOT_A_NUMBER), ("70", "Infinity", "height_cm", NOT_A_NUMBER),
])
def test_bmi_refuses_weights_and_heights_that_are_not_positive_naming_which(
    weight: str, height: str, quantity: str, code: str
) -> None:
    with pytest.raises(ValueError) as caught:
        body_mass_index(weight_kg=D(weight), height_cm=D(height))
    assert isinstance(caught.value, ValueRefused)
    assert (caught.value.quantity, caught.value.code) == (quantity, code)
