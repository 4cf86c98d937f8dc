"""What a programme definition may name, told by the apps that own it.

Programmes sit below the apps that measure, so the measurement app registers a
reader of its types here (in its ``AppConfig.ready``), as apps register their kinds
of event with core: a definition is checked against what exists without the
programmes app importing the measurement app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

MeasureReader = Callable[[], Mapping[str, Sequence[str]]]
_readers: list[MeasureReader] = []


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
