"""What a programme definition may name, told by the apps that own it.

Programmes sit below the apps that measure, so the measurement app registers a
reader of its types here (in its ``AppConfig.ready``), as apps register their kinds
of event with core: a definition is checked against what exists without the
programmes app importing the measurement app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

MeasureReader = Callable[[], Mapping[str, Sequence[str]]]
ValueReader = Callable[[str, "Decimal | int | str", "str | None", str], Decimal]
RangeReader = Callable[[], Mapping[str, tuple[Decimal, Decimal]]]
_readers: list[MeasureReader] = []
_value_readers: list[ValueReader] = []
_range_readers: list[RangeReader] = []


def register_measures(reader: MeasureReader) -> None:
    """Registers a reader of measure codes and the units a rule may compare them in."""
    if reader not in _readers:
        _readers.append(reader)


def known_measures() -> dict[str, list[str]] | None:
    """Every registered measure with its units; ``None`` when no app registered any."""
    if not _readers:
        return None
    known: dict[str, list[str]] = {}
    for reader in _readers:
        for code, units in reader().items():
            known.setdefault(code, []).extend(unit for unit in units
                                              if unit not in known.get(code, []))
    return known


def register_value_reader(reader: ValueReader) -> None:
    """Registers the reader of one measured value: ``reader(code, value, unit, field)``
    gives the value in the measure's stored unit (``unit`` None: already in it),
    converted and checked, or raises the owner's refusal naming ``field``."""
    if reader not in _value_readers:
        _value_readers.append(reader)


def read_value(code: str, value: Decimal | int | str, unit: str | None = None, *,
               field: str = "value") -> Decimal:
    """A value of measure ``code`` as the app that owns the measures reads it."""
    if not _value_readers:
        raise LookupError("no app has registered a reader of measured values")
    return _value_readers[0](code, value, unit, field)


def register_ranges(reader: RangeReader) -> None:
    """Registers a reader of each measure's plausible range (lowest, highest)."""
    if reader not in _range_readers:
        _range_readers.append(reader)


def known_ranges() -> dict[str, tuple[Decimal, Decimal]]:
    """Every registered measure's plausible range."""
    ranges: dict[str, tuple[Decimal, Decimal]] = {}
    for reader in _range_readers:
        ranges.update(reader())
    return ranges
