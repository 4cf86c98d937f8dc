"""Measurement rules as pure functions: units, plausible ranges and the follow-up schedule.

Nothing here reads the database or the clock. Values are ``Decimal`` throughout
(a float is refused outright), "today" is always an argument, and every number
that is a programme parameter (interval, grace days, reminder lead time) comes
in as one (SPEC §3.2, §6). Messages are lazy translations, rendered in the
reader's language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING, Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.core.dates import add_months
from apps.core.errors import InvalidInput

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

# Every computation runs in this context, whatever the caller's thread context says.
_CONTEXT = Context(prec=28, rounding=ROUND_HALF_UP)

# --------------------------------------------------------------------------
# Types, units and conversions
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    """An accepted unit: canonical = (value - subtract) * multiply, then quantized."""

    unit: str
    subtract: Decimal = Decimal("0")
    multiply: Decimal = Decimal("1")


@dataclass(frozen=True)
class TypeSpec:
    code: str  # "hba1c"
    canonical_unit: str  # "mmol/mol"
    decimal_places: int  # canonical values are rounded (ROUND_HALF_UP) to this
    plausible_min: Decimal  # inclusive, in the canonical unit
    plausible_max: Decimal  # inclusive, in the canonical unit
    conversions: tuple[Conversion, ...]  # the canonical unit is always accepted as well
    label: StrOrPromise = ""  # shown in messages; the code when empty
    derived_from: tuple[str, ...] = ()  # type codes it is computed from (BMI)

    @property
    def display_name(self) -> StrOrPromise:
        return self.label or self.code

    @property
    def accepted_units(self) -> tuple[str, ...]:
        """The canonical unit first, then every other accepted unit (no duplicates)."""
        units = [self.canonical_unit]
        for conversion in self.conversions:
            if _unit_key(conversion.unit) not in {_unit_key(unit) for unit in units}:
                units.append(conversion.unit)
        return tuple(units)

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimal_places)


class MeasurementRefused(InvalidInput, ValueError):
    """A value that cannot be stored: ``code`` is one of the codes below.

    ``field`` names the input it is about (the type code unless the caller said
    otherwise); ``message`` is a lazy translation. It is a ``DomainError``, so the
    API renders it as ``{"error": {"code", "message", "fields": {field: [message]}}}``.
    """

    UNKNOWN_UNIT = "unknown_unit"
    OUT_OF_RANGE = "out_of_range"
    NOT_A_NUMBER = "not_a_number"

    def __init__(self, *, field: str, code: str, message: StrOrPromise) -> None:
        self.field = field
        super().__init__(message, code=code, fields={field: message})


def _unit_key(unit: str) -> str:
    return unit.strip().casefold()


def _plain(value: Decimal) -> str:
    """A decimal as written, never in exponent notation ("250", "6.0", "0.1")."""
    return format(value, "f")


def find_conversion(spec: TypeSpec, unit: str) -> Conversion | None:
    """The conversion for ``unit`` (exact after strip(), case-insensitive), or None."""
    key = _unit_key(unit)
    if key == _unit_key(spec.canonical_unit):
        return Conversion(spec.canonical_unit)
    for conversion in spec.conversions:
        if _unit_key(conversion.unit) == key:
            return conversion
    return None


def _as_decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, float):
        raise TypeError("measurement values are Decimal, never float")
    number: Decimal | None = None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip().replace(",", "."))
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite():
        raise MeasurementRefused(
            field=field,
            code=MeasurementRefused.NOT_A_NUMBER,
            message=format_lazy(_("“{value}” is not a number."), value=value),
        )
    return number


def to_canonical(
    spec: TypeSpec, value: Decimal | int | str, unit: str, *, field: str | None = None
) -> Decimal:
    """``value`` in ``unit`` as the canonical value: converted, quantized, range-checked.

    The plausible range applies to the canonical value, so a "%" HbA1c is checked
    after conversion to mmol/mol. A string such as "6,5" is read with a decimal comma.
    Raises ``MeasurementRefused`` (not_a_number, unknown_unit or out_of_range).
    """
    field = field or spec.code
    number = _as_decimal(value, field)
    conversion = find_conversion(spec, unit)
    if conversion is None:
        raise MeasurementRefused(
            field=field,
            code=MeasurementRefused.UNKNOWN_UNIT,
            message=format_lazy(
                _("The unit “{unit}” is not accepted for {name}. Accepted units: {units}."),
                unit=unit.strip(),
                name=spec.display_name,
                units=", ".join(spec.accepted_units),
            ),
        )
    canonical: Decimal | None
    try:
        with localcontext(_CONTEXT):
            canonical = ((number - conversion.subtract) * conversion.multiply).quantize(
                spec.quantum, rounding=ROUND_HALF_UP
            )
    except InvalidOperation:  # too many digits to quantize: far outside any range
        canonical = None
    if canonical is None or not spec.plausible_min <= canonical <= spec.plausible_max:
        raise MeasurementRefused(
            field=field,
            code=MeasurementRefused.OUT_OF_RANGE,
            message=_range_message(spec, number, conversion, canonical),
        )
    return canonical


def _range_message(
    spec: TypeSpec, number: Decimal, conversion: Conversion, canonical: Decimal | None
) -> StrOrPromise:
    given = f"{_plain(number)} {conversion.unit}"
    if canonical is not None and conversion.unit != spec.canonical_unit:
        given = f"{given} ({_plain(canonical)} {spec.canonical_unit})"
    return format_lazy(
        _("{name} {value} is outside the plausible range {low}–{high} {unit}."),
        name=spec.display_name,
        value=given,
        low=_plain(spec.plausible_min),
        high=_plain(spec.plausible_max),
        unit=spec.canonical_unit,
    )


# --------------------------------------------------------------------------
# HbA1c and BMI (SPEC §6)
# --------------------------------------------------------------------------

HBA1C_DCCT_OFFSET = Decimal("2.15")
HBA1C_IFCC_FACTOR = Decimal("10.929")


def hba1c_percent_to_mmol(percent: Decimal) -> Decimal:
    """IFCC mmol/mol = (DCCT % − 2.15) × 10.929, to one decimal rounded half up."""
    with localcontext(_CONTEXT):
        mmol = (percent - HBA1C_DCCT_OFFSET) * HBA1C_IFCC_FACTOR
        return mmol.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def hba1c_mmol_to_percent(mmol: Decimal) -> Decimal:
    """DCCT % = IFCC mmol/mol / 10.929 + 2.15, to two decimals rounded half up."""
    with localcontext(_CONTEXT):
        percent = mmol / HBA1C_IFCC_FACTOR + HBA1C_DCCT_OFFSET
        return percent.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def bmi_from(*, weight_kg: Decimal, height_cm: Decimal) -> Decimal:
    """kg/m² to one decimal rounded half up; check the result with ``to_canonical``."""
    numbers: list[Decimal] = []
    for field, value in (("weight", weight_kg), ("height", height_cm)):
        number = _as_decimal(value, field)
        numbers.append(number)
        if number <= 0:
            raise MeasurementRefused(
                field=field,
                code=MeasurementRefused.OUT_OF_RANGE,
                message=format_lazy(
                    _("{name} must be greater than zero."), name=TYPES[field].display_name
                ),
            )
    weight, height = numbers
    with localcontext(_CONTEXT):
        bmi = weight * 10_000 / (height * height)
        return bmi.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------
# The platform's measurement types
# --------------------------------------------------------------------------

_MG_DL = "mg/dL"
_TRIGLYCERIDES_MG_DL = Conversion(_MG_DL, multiply=Decimal("0.01129"))
_CHOLESTEROL_MG_DL = Conversion(_MG_DL, multiply=Decimal("0.02586"))
_MM_HG = Conversion("mmHg")  # the everyday spelling of the UCUM unit mm[Hg]

DEFAULT_TYPES: tuple[TypeSpec, ...] = (
    TypeSpec(
        "hba1c", "mmol/mol", 1, Decimal("15"), Decimal("195"),
        (Conversion("%", subtract=HBA1C_DCCT_OFFSET, multiply=HBA1C_IFCC_FACTOR),),
        label="HbA1c",
    ),
    TypeSpec(
        "triglycerides", "mmol/L", 2, Decimal("0.1"), Decimal("50"),
        (_TRIGLYCERIDES_MG_DL,), label=_("Triglycerides"),
    ),
    TypeSpec(
        "cholesterol_total", "mmol/L", 2, Decimal("1"), Decimal("20"),
        (_CHOLESTEROL_MG_DL,), label=_("Total cholesterol"),
    ),
    TypeSpec(
        "ldl", "mmol/L", 2, Decimal("0.1"), Decimal("15"),
        (_CHOLESTEROL_MG_DL,), label=_("LDL cholesterol"),
    ),
    TypeSpec(
        "hdl", "mmol/L", 2, Decimal("0.1"), Decimal("5"),
        (_CHOLESTEROL_MG_DL,), label=_("HDL cholesterol"),
    ),
    TypeSpec(
        "weight", "kg", 1, Decimal("25"), Decimal("350"),
        (Conversion("g", multiply=Decimal("0.001")),), label=_("Weight"),
    ),
    TypeSpec(
        "height", "cm", 1, Decimal("100"), Decimal("250"),
        (Conversion("m", multiply=Decimal("100")),), label=_("Height"),
    ),
    TypeSpec(
        "bmi", "kg/m2", 1, Decimal("10"), Decimal("80"), (),
        label=_("BMI"), derived_from=("weight", "height"),
    ),
    TypeSpec("waist", "cm", 1, Decimal("40"), Decimal("250"), (), label=_("Waist circumference")),
    TypeSpec("findrisc", "score", 0, Decimal("0"), Decimal("26"), (), label="FINDRISC"),
    TypeSpec(
        "bp_systolic", "mm[Hg]", 0, Decimal("60"), Decimal("260"),
        (_MM_HG,), label=_("Systolic blood pressure"),
    ),
    TypeSpec(
        "bp_diastolic", "mm[Hg]", 0, Decimal("30"), Decimal("160"),
        (_MM_HG,), label=_("Diastolic blood pressure"),
    ),
)

TYPES: dict[str, TypeSpec] = {spec.code: spec for spec in DEFAULT_TYPES}

# type code -> LOINC code of its canonical unit ("" where LOINC has none: FINDRISC).
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
}

# LOINC codes whose meaning includes the unit (HbA1c: IFCC mmol/mol or DCCT %).
UNIT_LOINC: dict[str, tuple[str, str]] = {
    "4548-4": ("hba1c", "%"),
    "59261-8": ("hba1c", "mmol/mol"),
}

# --------------------------------------------------------------------------
# The follow-up schedule (SPEC §3.2)
# --------------------------------------------------------------------------


# The default follow-up set (SPEC §3.2); BMI is derived from weight and height, so those count.
DEFAULT_FOLLOW_UP_SET: tuple[str, ...] = (
    "hba1c", "triglycerides", "cholesterol_total", "ldl", "hdl", "weight", "height", "findrisc",
)


def due_dates(*, enrolled_on: date, interval_months: int, programme_months: int) -> list[date]:
    """Every follow-up due date: enrolled_on + k × interval calendar months, k = 1 … n.

    Always anchored on ``enrolled_on`` (never chained), so 31 Jan + 3 months is
    30 Apr and + 6 months is 31 Jul; n = programme_months // interval_months.
    """
    if interval_months <= 0:
        raise ValueError("interval_months must be positive")
    if programme_months < 0:
        raise ValueError("programme_months must not be negative")
    count = programme_months // interval_months
    return [add_months(enrolled_on, k * interval_months) for k in range(1, count + 1)]


def window_for(due: list[date], index: int, *, enrolled_on: date) -> tuple[date, date]:
    """The days a value must be taken on to count for ``due[index]``, both inclusive.

    From the day after the previous due date (or after enrollment, for the first)
    to the due date itself.
    """
    if not 0 <= index < len(due):
        raise IndexError(f"no due date number {index}")
    previous = due[index - 1] if index > 0 else enrolled_on
    return previous + timedelta(days=1), due[index]


def missing_types(
    required: Iterable[str], taken: Mapping[str, Iterable[date]], start: date, end: date
) -> list[str]:
    """The required type codes with no value taken in [start, end], sorted."""
    return sorted(
        code
        for code in set(required)
        if not any(start <= day <= end for day in taken.get(code, ()))
    )


def set_complete(
    required: Iterable[str], taken: Mapping[str, Iterable[date]], start: date, end: date
) -> bool:
    """Every required type code has at least one value taken in [start, end]."""
    return not missing_types(required, taken, start, end)


def next_due(due: list[date], today: date) -> date | None:
    """The first due date on or after today, or None when all have passed."""
    return min((day for day in due if day >= today), default=None)


def is_overdue(due_date: date, complete: bool, today: date) -> bool:
    """The set is incomplete and the due date has passed (the due day itself is not late)."""
    return not complete and today > due_date


def exclusion_due(due_date: date, complete: bool, today: date, grace_days: int) -> bool:
    """The set is incomplete and more than ``grace_days`` days have passed since the due date."""
    if grace_days < 0:
        raise ValueError("grace_days must not be negative")
    return not complete and today > due_date + timedelta(days=grace_days)


def reminder_due(due_date: date, today: date, days_before: int) -> bool:
    """Today is the reminder day: exactly ``days_before`` days before the due date."""
    if days_before < 0:
        raise ValueError("days_before must not be negative")
    return today == due_date - timedelta(days=days_before)
