"""Units, conversions, plausible ranges and BMI (SPEC §3.2, §6).

A value arrives in one of a measure's accepted units and is kept in the
measure's canonical unit: ``canonical = (value − subtract) × multiply``,
rounded half up to the measure's decimals. The plausible range (inclusive)
applies to the canonical value, so a "%" HbA1c is checked after conversion to
mmol/mol. Values are ``Decimal`` throughout; a float is refused outright (a
programming error, ``TypeError``). A value that cannot be accepted raises
``ValueRefused`` with a code and the numbers a message needs; the platform
words it for the person who sent the value.

``DEFAULT_MEASURES`` are the platform's measures as first set up: where a
database holds them as data, this is where its first values come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext

# Every computation runs in this context, whatever the caller's thread context says.
CONTEXT = Context(prec=28, rounding=ROUND_HALF_UP)
ONE_DECIMAL = Decimal("0.1")

UNKNOWN_UNIT = "unknown_unit"
OUT_OF_RANGE = "out_of_range"
NOT_A_NUMBER = "not_a_number"


@dataclass(frozen=True)
class Conversion:
    """An accepted unit: canonical = (value - subtract) * multiply, then quantized."""

    unit: str
    subtract: Decimal = Decimal("0")
    multiply: Decimal = Decimal("1")


@dataclass(frozen=True)
class MeasureSpec:
    code: str  # "hba1c"
    canonical_unit: str  # "mmol/mol"
    decimal_places: int  # canonical values are rounded (half up) to this
    plausible_min: Decimal  # inclusive, in the canonical unit
    plausible_max: Decimal  # inclusive, in the canonical unit
    conversions: tuple[Conversion, ...]  # the canonical unit is always accepted as well
    derived_from: tuple[str, ...] = ()  # measure codes it is computed from (BMI)

    @property
    def accepted_units(self) -> tuple[str, ...]:
        """The canonical unit first, then every other accepted unit (no duplicates)."""
        units = [self.canonical_unit]
        for conversion in self.conversions:
            if unit_key(conversion.unit) not in {unit_key(unit) for unit in units}:
                units.append(conversion.unit)
        return tuple(units)

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimal_places)


class ValueRefused(ValueError):
    """A value the unit rules cannot accept.

    ``code`` is ``unknown_unit``, ``out_of_range`` or ``not_a_number``;
    ``quantity`` names what the value is (a measure code, or ``weight_kg`` /
    ``height_cm`` for the inputs of BMI). ``value`` is the value as given and
    ``number`` the same as a ``Decimal`` (None when it is not a number).
    ``unit`` is the unit as given (stripped) for ``unknown_unit``, otherwise
    the accepted unit's own spelling; ``canonical`` is the converted value
    (None when it could not be computed). ``low``/``high`` are the plausible
    range in ``canonical_unit`` (None for a BMI input, which must be positive).
    """

    def __init__(self, code: str, *, quantity: str, value: object,
                 number: Decimal | None = None, unit: str = "",
                 canonical: Decimal | None = None, low: Decimal | None = None,
                 high: Decimal | None = None, canonical_unit: str = "",
                 accepted_units: tuple[str, ...] = ()) -> None:
        self.code = code
        self.quantity = quantity
        self.value = value
        self.number = number
        self.unit = unit
        self.canonical = canonical
        self.low = low
        self.high = high
        self.canonical_unit = canonical_unit
        self.accepted_units = accepted_units
        super().__init__(f"{code}: {quantity} {self._details()}")

    def _details(self) -> str:
        if self.code == NOT_A_NUMBER:
            return f"{self.value!r} is not a finite number"
        if self.code == UNKNOWN_UNIT:
            return f"unit {self.unit!r} is not one of {', '.join(self.accepted_units)}"
        if self.low is None or self.high is None:
            return f"{as_written(self.number)} must be greater than zero"
        return (f"{as_written(self.number)} {self.unit} is outside "
                f"{as_written(self.low)}–{as_written(self.high)} {self.canonical_unit}")


def as_written(value: Decimal | None) -> str:
    """A decimal as written, never in exponent notation ("250", "6.0", "0.1")."""
    return "" if value is None else format(value, "f")


def unit_key(unit: str) -> str:
    """Units match after ``strip()``, ignoring case ("MMOL/MOL", " mg/dl ")."""
    return unit.strip().casefold()


def find_conversion(spec: MeasureSpec, unit: str) -> Conversion | None:
    """The conversion for ``unit`` (exact after strip(), case-insensitive), or None."""
    key = unit_key(unit)
    if key == unit_key(spec.canonical_unit):
        return Conversion(spec.canonical_unit)
    for conversion in spec.conversions:
        if unit_key(conversion.unit) == key:
            return conversion
    return None


def plausible(spec: MeasureSpec, canonical: Decimal) -> bool:
    """The canonical value lies in the measure's plausible range (both ends included)."""
    return spec.plausible_min <= canonical <= spec.plausible_max


def as_number(value: object, quantity: str) -> Decimal:
    """A ``Decimal``, an ``int`` or a string ("6,5" is read with a decimal comma) as a
    finite ``Decimal``; anything else raises ``ValueRefused`` (``not_a_number``).

    A float raises ``TypeError``: values are never floats.
    """
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
        raise ValueRefused(NOT_A_NUMBER, quantity=quantity, value=value)
    return number


def to_canonical(spec: MeasureSpec, value: Decimal | int | str, unit: str) -> Decimal:
    """``value`` in ``unit`` as the canonical value: converted, quantized, range-checked.

    Raises ``ValueRefused`` (``not_a_number``, ``unknown_unit`` or ``out_of_range``).
    """
    number = as_number(value, spec.code)
    conversion = find_conversion(spec, unit)
    if conversion is None:
        raise ValueRefused(UNKNOWN_UNIT, quantity=spec.code, value=value, number=number,
                           unit=unit.strip(), canonical_unit=spec.canonical_unit,
                           accepted_units=spec.accepted_units)
    canonical: Decimal | None
    try:
        with localcontext(CONTEXT):
            canonical = ((number - conversion.subtract) * conversion.multiply).quantize(
                spec.quantum, rounding=ROUND_HALF_UP
            )
    except InvalidOperation:  # too many digits to quantize: far outside any range
        canonical = None
    if canonical is None or not plausible(spec, canonical):
        raise ValueRefused(OUT_OF_RANGE, quantity=spec.code, value=value, number=number,
                           unit=conversion.unit, canonical=canonical,
                           low=spec.plausible_min, high=spec.plausible_max,
                           canonical_unit=spec.canonical_unit,
                           accepted_units=spec.accepted_units)
    return canonical


def body_mass_index(*, weight_kg: Decimal, height_cm: Decimal) -> Decimal:
    """kg/m², to one decimal rounded half up (the precision FINDRISC bands use).

    Raises ``ValueRefused`` naming the input (``weight_kg`` or ``height_cm``):
    ``not_a_number`` for something that is not a finite number, ``out_of_range``
    for zero or less. The result is not range-checked: check it as a measure.
    """
    numbers: list[Decimal] = []
    for quantity, value in (("weight_kg", weight_kg), ("height_cm", height_cm)):
        number = as_number(value, quantity)
        if number <= 0:
            raise ValueRefused(OUT_OF_RANGE, quantity=quantity, value=value, number=number)
        numbers.append(number)
    weight, height = numbers
    with localcontext(CONTEXT):
        bmi = weight * 10_000 / (height * height)
        return bmi.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------
# The platform's measures as first set up
# --------------------------------------------------------------------------

# HbA1c: IFCC mmol/mol = (DCCT % − 2.15) × 10.929 (SPEC §6).
HBA1C_DCCT_OFFSET = Decimal("2.15")
HBA1C_IFCC_FACTOR = Decimal("10.929")

_MG_DL = "mg/dL"
_TRIGLYCERIDES_MG_DL = Conversion(_MG_DL, multiply=Decimal("0.01129"))
_CHOLESTEROL_MG_DL = Conversion(_MG_DL, multiply=Decimal("0.02586"))
POUND_KG = Decimal("0.45359237")  # the international avoirdupois pound
_MM_HG = Conversion("mmHg")  # the everyday spelling of the UCUM unit mm[Hg]

DEFAULT_MEASURES: tuple[MeasureSpec, ...] = (
    MeasureSpec(
        "hba1c", "mmol/mol", 1, Decimal("15"), Decimal("195"),
        (Conversion("%", subtract=HBA1C_DCCT_OFFSET, multiply=HBA1C_IFCC_FACTOR),),
    ),
    MeasureSpec("triglycerides", "mmol/L", 2, Decimal("0.1"), Decimal("50"),
                (_TRIGLYCERIDES_MG_DL,)),
    MeasureSpec("cholesterol_total", "mmol/L", 2, Decimal("1"), Decimal("20"),
                (_CHOLESTEROL_MG_DL,)),
    MeasureSpec("ldl", "mmol/L", 2, Decimal("0.1"), Decimal("15"), (_CHOLESTEROL_MG_DL,)),
    MeasureSpec("hdl", "mmol/L", 2, Decimal("0.1"), Decimal("5"), (_CHOLESTEROL_MG_DL,)),
    MeasureSpec("weight", "kg", 1, Decimal("25"), Decimal("350"),
                (Conversion("g", multiply=Decimal("0.001")),
                 Conversion("lb", multiply=POUND_KG))),
    MeasureSpec("height", "cm", 1, Decimal("100"), Decimal("250"),
                (Conversion("m", multiply=Decimal("100")),)),
    MeasureSpec("bmi", "kg/m2", 1, Decimal("10"), Decimal("80"), (),
                derived_from=("weight", "height")),
    MeasureSpec("waist", "cm", 1, Decimal("40"), Decimal("250"), ()),
    MeasureSpec("findrisc", "score", 0, Decimal("0"), Decimal("26"), ()),
    MeasureSpec("bp_systolic", "mm[Hg]", 0, Decimal("60"), Decimal("260"), (_MM_HG,)),
    MeasureSpec("bp_diastolic", "mm[Hg]", 0, Decimal("30"), Decimal("160"), (_MM_HG,)),
    # The programmes beyond prediabetes (PROGRAMMES.md): steps per day from a device,
    # Timed Up and Go, and the scores of UCLA-3, Short FES-I and the fall history.
    MeasureSpec("steps", "steps/d", 0, Decimal("0"), Decimal("100000"), ()),
    MeasureSpec("tug", "s", 1, Decimal("3"), Decimal("120"), ()),
    MeasureSpec("ucla3", "score", 0, Decimal("3"), Decimal("9"), ()),
    MeasureSpec("short_fes_i", "score", 0, Decimal("7"), Decimal("28"), ()),
    MeasureSpec("fall_history", "score", 0, Decimal("0"), Decimal("1"), ()),
)

MEASURES: dict[str, MeasureSpec] = {spec.code: spec for spec in DEFAULT_MEASURES}
