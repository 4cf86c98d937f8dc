"""The baseline (T=0) value of a measure that an outcome criterion compares with.

A prepatient's baseline is registered when the baseline follow-up set is
complete. The baseline value of a measure compared by ``change`` or
``percent_change`` is the earliest sample of it, from the sources of the
criteria that compare it, taken in the baseline set's window (both ends
included); of two on the same day the first given.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from prevention_engine.model import BaselineValue, Rules, Sample


def baseline_sources(rules: Rules) -> dict[str, frozenset[str]]:
    """Per measure compared with the baseline: the sources its value may come from."""
    sources: dict[str, frozenset[str]] = {}
    for criterion in rules.criteria:
        if criterion.uses_baseline:
            sources[criterion.measure] = sources.get(criterion.measure,
                                                     frozenset()) | criterion.sources
    return sources


def baseline_values(samples: Iterable[Sample], sources: dict[str, frozenset[str]],
                    first: date, last: date) -> dict[str, BaselineValue]:
    """The earliest sample per compared measure within ``first`` … ``last``."""
    found: dict[str, Sample] = {}
    for sample in samples:
        allowed = sources.get(sample.measure)
        if (allowed is None or sample.source not in allowed
                or not first <= sample.taken_on <= last):
            continue
        known = found.get(sample.measure)
        if known is None or sample.taken_on < known.taken_on:
            found[sample.measure] = sample
    return {measure: BaselineValue(s.value, s.text, s.unit) for measure, s in found.items()}
