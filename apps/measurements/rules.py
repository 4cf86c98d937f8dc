"""The measurement types in the reader's words: labels and refusal messages.

The rules themselves are ``prevention_engine.units`` (conversions, the
case-insensitive unit lookup, plausible ranges, BMI) and
``prevention_engine.followup`` (the schedule and its deadlines). Here each
type gets its label, and the engine's ``ValueRefused`` becomes a
``MeasurementRefused`` (``apps.measurements.errors``) whose lazily translated
message names the field.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.measurements.errors import MeasurementRefused
from prevention_engine import units
from prevention_engine.units import DEFAULT_MEASURES, MeasureSpec, ValueRefused, as_written

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise


@dataclass(frozen=True)
class TypeSpec(MeasureSpec):
    """An engine measure with the label messages name it by."""

    label: StrOrPromise = ""  # shown in messages; the code when empty

    @classmethod
    def of(cls, measure: MeasureSpec, label: StrOrPromise = "") -> TypeSpec:
        return cls(**{f.name: getattr(measure, f.name) for f in fields(MeasureSpec)},
                   label=label)

    @property
    def display_name(self) -> StrOrPromise:
        return self.label or self.code


def _not_a_number(refused: ValueRefused) -> StrOrPromise:
    return format_lazy(_("“{value}” is not a number."), value=refused.value)


def _refusal_message(spec: TypeSpec, refused: ValueRefused) -> StrOrPromise:
    if refused.code == units.NOT_A_NUMBER:
        return _not_a_number(refused)
    if refused.code == units.UNKNOWN_UNIT:
        return format_lazy(
            _("The unit “{unit}” is not accepted for {name}. Accepted units: {units}."),
            unit=refused.unit, name=spec.display_name, units=", ".join(spec.accepted_units),
        )
    given = f"{as_written(refused.number)} {refused.unit}"
    if refused.canonical is not None and refused.unit != spec.canonical_unit:
        given = f"{given} ({as_written(refused.canonical)} {spec.canonical_unit})"
    return format_lazy(
        _("{name} {value} is outside the plausible range {low}–{high} {unit}."),
        name=spec.display_name,
        value=given,
        low=as_written(spec.plausible_min),
        high=as_written(spec.plausible_max),
        unit=spec.canonical_unit,
    )


def convert_or_refuse(
    spec: TypeSpec, value: Decimal | int | str, unit: str, *, field: str | None = None
) -> Decimal:
    """``units.to_canonical``, refusing with a message that names the field.

    Raises ``MeasurementRefused`` (not_a_number, unknown_unit or out_of_range), and
    ``TypeError`` for a float.
    """
    try:
        return units.to_canonical(spec, value, unit)
    except ValueRefused as refused:
        raise MeasurementRefused(field=field or spec.code, code=refused.code,
                                 message=_refusal_message(spec, refused)) from refused


_BMI_INPUTS = {"weight_kg": "weight", "height_cm": "height"}


def bmi_from(*, weight_kg: Decimal, height_cm: Decimal) -> Decimal:
    """``units.body_mass_index``, refusing with a message that names the input
    (``weight`` or ``height``); check the result with ``convert_or_refuse``."""
    try:
        return units.body_mass_index(weight_kg=weight_kg, height_cm=height_cm)
    except ValueRefused as refused:
        field = _BMI_INPUTS[refused.quantity]
        message = (_not_a_number(refused) if refused.code == units.NOT_A_NUMBER
                   else format_lazy(_("{name} must be greater than zero."),
                                    name=TYPES[field].display_name))
        raise MeasurementRefused(field=field, code=refused.code, message=message) from refused


# --------------------------------------------------------------------------
# The platform's measurement types: the engine's measures with their labels
# --------------------------------------------------------------------------

LABELS: dict[str, StrOrPromise] = {
    "hba1c": "HbA1c",
    "triglycerides": _("Triglycerides"),
    "cholesterol_total": _("Total cholesterol"),
    "ldl": _("LDL cholesterol"),
    "hdl": _("HDL cholesterol"),
    "weight": _("Weight"),
    "height": _("Height"),
    "bmi": _("BMI"),
    "waist": _("Waist circumference"),
    "findrisc": "FINDRISC",
    "bp_systolic": _("Systolic blood pressure"),
    "bp_diastolic": _("Diastolic blood pressure"),
    "steps": _("Steps per day"),
    "tug": _("Timed Up and Go"),
    "ucla3": _("Loneliness score (UCLA-3)"),
    "short_fes_i": _("Concern about falling (Short FES-I)"),
    "fall_history": _("Fall in the last 12 months"),
}

# What a measure shows, in plain words, for the people whose values they are (My page).
ABOUT: dict[str, StrOrPromise] = {
    "hba1c": _("HbA1c shows your average blood sugar over the last months."),
    "weight": _("Your weight, measured by your provider or on a connected scale."),
    "bmi": _("BMI is your weight in relation to your height."),
    "waist": _("Your waist circumference, measured by your provider."),
    "steps": _("Your steps per day, from your step counter."),
    "tug": _("Timed Up and Go: the seconds it takes you to stand up, walk three metres, "
             "turn, walk back and sit down."),
    "ucla3": _("Three questions about loneliness, from 3 (hardly ever lonely) to 9 "
               "(often lonely)."),
    "short_fes_i": _("Seven questions about concern about falling, from 7 (not at all "
                     "concerned) to 28 (very concerned)."),
}

DEFAULT_TYPES: tuple[TypeSpec, ...] = tuple(
    TypeSpec.of(measure, LABELS[measure.code]) for measure in DEFAULT_MEASURES)

TYPES: dict[str, TypeSpec] = {spec.code: spec for spec in DEFAULT_TYPES}

# type code -> LOINC code of its canonical unit ("" where none is used: the scores, TUG).
LOINC: dict[str, str] = {
    "hba1c": "59261-8",
    "triglycerides": "14927-8",
    "cholesterol_total": "14647-2",
    "ldl": "22748-8",
    "hdl": "14646-4",
    "weight": "29463-7",
    "height": "8302-2",
    "bmi": "39156-5",
    "waist": "8280-0",
    "findrisc": "",
    "bp_systolic": "8480-6",
    "bp_diastolic": "8462-4",
    "steps": "41950-7",
    "tug": "",
    "ucla3": "",
    "short_fes_i": "",
    "fall_history": "",
}

# LOINC codes whose meaning includes the unit (HbA1c: IFCC mmol/mol or DCCT %).
UNIT_LOINC: dict[str, tuple[str, str]] = {
    "4548-4": ("hba1c", "%"),
    "59261-8": ("hba1c", "mmol/mol"),
}
