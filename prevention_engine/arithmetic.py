"""Decimal arithmetic of the settlement rules (SETTLEMENT_FORMAT.md).

Every operation runs in one context, whatever the caller's thread context says:
28 significant digits (a division is carried that far), and each computed
quantity is rounded half-even to 4 decimal places once, as soon as it is
computed. A value used as reported is never rounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal

CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)
# quantize() needs room for the integer digits as well as the 4 decimals.
_QUANTIZE = Context(prec=80, rounding=ROUND_HALF_EVEN)
FOUR_PLACES = Decimal("0.0001")
TWO_PLACES = Decimal("0.01")
ZERO = Decimal(0)


def round4(value: Decimal) -> Decimal:
    """Half-even to 4 decimal places (a zero is never negative)."""
    rounded = value.quantize(FOUR_PLACES, context=_QUANTIZE)
    return rounded if rounded else rounded.copy_abs()


def text4(value: Decimal) -> str:
    """A computed quantity as the format writes it: exactly 4 decimals."""
    return format(value, "f")


def money(value: Decimal) -> Decimal:
    """Half-up to two decimals (amounts)."""
    return value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP, context=_QUANTIZE)


def converted(value: Decimal, offset: Decimal, factor: Decimal, *, rounding: bool) -> Decimal:
    """``(value + offset) × factor``, rounded to 4 places unless ``rounding`` is off
    (version 1 of the format compared it unrounded)."""
    result = CONTEXT.multiply(CONTEXT.add(value, offset), factor)
    return round4(result) if rounding else result


def mean(values: Sequence[Decimal]) -> Decimal:
    total = ZERO
    for value in values:
        total = CONTEXT.add(total, value)
    return round4(CONTEXT.divide(total, Decimal(len(values))))


def change(quantity: Decimal, baseline: Decimal) -> Decimal:
    return round4(CONTEXT.subtract(quantity, baseline))


def percent_change(quantity: Decimal, baseline: Decimal) -> Decimal:
    """(quantity − baseline) / baseline × 100, rounded after the × 100."""
    ratio = CONTEXT.divide(CONTEXT.subtract(quantity, baseline), baseline)
    return round4(CONTEXT.multiply(ratio, Decimal(100)))
