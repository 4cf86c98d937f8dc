"""The measurement types in the reader's words: a refused value names its field and
says why in a sentence. The conversions and ranges themselves are the engine's
(tests/engine/test_units.py)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from apps.core.errors import DomainError
from apps.measurements.errors import MeasurementRefused
from apps.measurements.rules import (
    DEFAULT_TYPES,
    LOINC,
    TYPES,
    UNIT_LOINC,
    TypeSpec,
    bmi_from,
    convert_or_refuse,
)
from apps.programs.models import FOLLOWUP_MEASURES
from prevention_engine.units import DEFAULT_MEASURES, Conversion

D = Decimal
HBA1C = TYPES["hba1c"]


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def refusal(spec: TypeSpec, value: Decimal | int | str, unit: str) -> MeasurementRefused:
    with pytest.raises(MeasurementRefused) as caught:
        convert_or_refuse(spec, value, unit)
    return caught.value


# ---------------------------------------------------------------- the types


def test_the_types_are_the_engines_measures_with_a_label_each():
    assert [spec.code for spec in DEFAULT_TYPES] == [m.code for m in DEFAULT_MEASURES]
    for spec, measure in zip(DEFAULT_TYPES, DEFAULT_MEASURES, strict=True):
        assert (spec.canonical_unit, spec.decimal_places, spec.plausible_min,
                spec.plausible_max, spec.conversions, spec.derived_from) == (
            measure.canonical_unit, measure.decimal_places, measure.plausible_min,
            measure.plausible_max, measure.conversions, measure.derived_from)
        assert str(spec.display_name)


def frozen_types() -> list[tuple[Any, ...]]:
    """The types as the data migrations write them, in order: 0002, then 0004's new
    types and its units added to earlier types."""
    first = importlib.import_module("apps.measurements.migrations.0002_measurement_types")
    later = importlib.import_module("apps.measurements.migrations.0004_programme_types")
    rows = [list(row) for row in first.TYPES]
    for code, unit, subtract, multiply in later.CONVERSIONS:
        row = next(row for row in rows if row[0] == code)
        row[7] = (*row[7], (unit, subtract, multiply))
    return [tuple(row) for row in rows] + list(later.TYPES)


def test_the_live_types_are_those_the_data_migrations_froze():
    """The migrations write frozen values; the platform's own defaults still agree."""
    assert [
        (spec.code, LOINC.get(spec.code, ""), spec.canonical_unit, spec.decimal_places,
         str(spec.plausible_min), str(spec.plausible_max), bool(spec.derived_from),
         tuple((c.unit, str(c.subtract), str(c.multiply)) for c in spec.conversions))
        for spec in DEFAULT_TYPES
    ] == frozen_types()


@pytest.mark.parametrize("name", ["0002_measurement_types", "0004_programme_types"])
def test_the_data_migrations_read_no_live_code(name: str) -> None:
    source = Path(importlib.import_module(
        f"apps.measurements.migrations.{name}").__file__).read_text()
    assert "from apps" not in source and "import apps" not in source


def test_every_type_has_a_loinc_entry_and_findrisc_has_none():
    assert set(LOINC) == set(TYPES)
    assert LOINC["hba1c"] == "59261-8"
    assert LOINC["findrisc"] == "" and LOINC["steps"] == "41950-7"
    assert UNIT_LOINC == {"4548-4": ("hba1c", "%"), "59261-8": ("hba1c", "mmol/mol")}


def test_the_unit_loinc_codes_name_accepted_units():
    for code, unit in UNIT_LOINC.values():
        assert convert_or_refuse(TYPES[code], D("6.0") if unit == "%" else D("42"), unit)


def test_the_programmes_default_follow_up_set_is_made_of_known_types():
    assert set(FOLLOWUP_MEASURES) <= set(TYPES)
    assert TYPES["bmi"].derived_from == ("weight", "height")


# ---------------------------------------------------------------- refusals


def test_a_value_in_an_accepted_unit_comes_back_canonical():
    assert convert_or_refuse(HBA1C, D("6.0"), "%") == D("42.1")
    assert convert_or_refuse(HBA1C, " 6,5 ", "%") == D("47.5")


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


def test_a_type_without_a_label_is_named_by_its_code():
    spec = TypeSpec("x", "u", 0, D("0"), D("10"), (Conversion("v", multiply=D("2")),))
    assert spec.display_name == "x"
    assert convert_or_refuse(spec, D("3"), "v") == D("6")
    assert "for x." in str(refusal(spec, D("3"), "w").message)


def test_a_refusal_is_a_value_error_and_a_domain_error_with_the_field_in_its_shape():
    error = refusal(HBA1C, D("250"), "mmol/mol")
    assert isinstance(error, ValueError)
    assert isinstance(error, DomainError)
    body = error.as_dict()["error"]
    assert body["code"] == "out_of_range"
    assert body["fields"] == {"hba1c": [str(error.message)]}


def test_the_caller_may_name_the_field_a_refusal_is_about():
    with pytest.raises(MeasurementRefused) as caught:
        convert_or_refuse(HBA1C, D("250"), "mmol/mol", field="value")
    assert caught.value.field == "value"


@pytest.mark.parametrize("value", ["abc", "", D("NaN"), D("Infinity"), D("-Infinity"), True])
def test_something_that_is_not_a_finite_number_is_refused_as_not_a_number(value):
    error = refusal(HBA1C, value, "mmol/mol")
    assert error.code == "not_a_number"
    assert error.field == "hba1c"
    assert str(error.message) == f"“{value}” is not a number."


def test_a_float_is_a_programming_error():
    with pytest.raises(TypeError):
        convert_or_refuse(HBA1C, 42.0, "mmol/mol")


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


def test_a_converted_value_out_of_range_is_shown_in_both_units():
    assert str(refusal(HBA1C, D("20"), "%").message) == (
        "HbA1c 20 % (195.1 mmol/mol) is outside the plausible range 15–195 mmol/mol."
    )
    # The canonical unit written another way is shown as the type writes it.
    assert str(refusal(HBA1C, D("250"), "MMOL/MOL").message) == (
        "HbA1c 250 mmol/mol is outside the plausible range 15–195 mmol/mol."
    )


def test_an_absurdly_large_value_is_refused_without_a_converted_value():
    assert str(refusal(HBA1C, D("-1E+40"), "%").message) == (
        "HbA1c -10000000000000000000000000000000000000000 % is outside the plausible "
        "range 15–195 mmol/mol."
    )


# ---------------------------------------------------------------- derived BMI


def test_bmi_from_weight_and_height_is_the_engines_bmi():
    assert bmi_from(weight_kg=D("80"), height_cm=D("180")) == D("24.7")  # 24.691…
    assert bmi_from(weight_kg=D("64.8"), height_cm=D("160")) == D("25.3")  # 25.3125


def test_bmi_needs_a_positive_weight_and_height_and_names_the_one_that_is_not():
    with pytest.raises(MeasurementRefused) as caught:
        bmi_from(weight_kg=D("80"), height_cm=D("0"))
    assert (caught.value.field, caught.value.code) == ("height", "out_of_range")
    assert str(caught.value.message) == "Height must be greater than zero."
    with pytest.raises(MeasurementRefused) as caught:
        bmi_from(weight_kg=D("-1"), height_cm=D("180"))
    assert (caught.value.field, str(caught.value.message)) == (
        "weight", "Weight must be greater than zero.")
    with pytest.raises(MeasurementRefused) as caught:
        bmi_from(weight_kg=D("NaN"), height_cm=D("180"))
    assert (caught.value.field, caught.value.code) == ("weight", "not_a_number")
    assert str(caught.value.message) == "“NaN” is not a number."
