"""The plain values the rules take and return: no ORM, no clock, no framework.

A programme's settlement rules (``Rules``) are data: outcome criteria and
disqualifiers in the vocabulary of the settlement format version 2 (measure,
unit, sources, aggregate, compare, op, threshold), unit conversions and the
payment rule. A prepatient's history (``PrepatientIn``) is what the
interchange file holds for one person.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import NamedTuple

SOURCES = ("lab", "provider", "self", "device")
AGGREGATES = ("closest", "mean")
COMPARES = ("value", "change", "percent_change")
OPERATORS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}
SYMBOLS = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥"}


class Result(str, Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    EXCLUDED = "excluded"
    PENDING = "pending"


class EventType(str, Enum):
    DROPPED_OUT = "dropped_out"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    EXCLUDED = "excluded"
    REINSTATED = "reinstated"
    DECEASED = "deceased"


EVENT_TYPES = tuple(kind.value for kind in EventType)


@dataclass(frozen=True)
class Criterion:
    """An outcome criterion: the prepatient succeeds only if every one is met."""

    measure: str
    unit: str
    sources: frozenset[str]
    aggregate: str  # "closest" or "mean"
    compare: str  # "value", "change" or "percent_change"
    op: str  # "lt", "le", "gt" or "ge"
    threshold: Decimal

    @property
    def uses_baseline(self) -> bool:
        return self.compare != "value"


@dataclass(frozen=True)
class Disqualifier:
    """Any sample of the measure from the sources, taken from enrollment to the end of
    the outcome window, that satisfies ``value op threshold`` makes the outcome a failure."""

    measure: str
    unit: str
    sources: frozenset[str]
    op: str
    threshold: Decimal
    reason: str


@dataclass(frozen=True)
class Conversion:
    """``to = (value + offset) × factor`` for values of ``measure`` in ``from_unit``."""

    measure: str
    from_unit: str
    to_unit: str
    offset: Decimal
    factor: Decimal


@dataclass(frozen=True)
class Payment:
    per_success: Decimal
    currency: str
    floor_share: Decimal
    ceiling_share: Decimal
    min_attributed: int


@dataclass(frozen=True)
class Rules:
    """A programme's settlement rules.

    ``rounding`` and ``late_switch_after_lost_authorization`` are the two rules in
    which version 1 of the format differs: version 1 compares a converted value
    unrounded and rejects every listing after the switching window.
    """

    code: str
    programme_months: int
    switch_months: int
    window_days: int
    criteria: tuple[Criterion, ...]
    disqualifiers: tuple[Disqualifier, ...]
    conversions: tuple[Conversion, ...]
    payment: Payment
    rounding: bool = True
    late_switch_after_lost_authorization: bool = True

    @property
    def outcome_rules(self) -> tuple[Criterion | Disqualifier, ...]:
        """The criteria, then the disqualifiers."""
        return (*self.criteria, *self.disqualifiers)

    @property
    def measures(self) -> frozenset[str]:
        """Every measure a criterion or disqualifier names."""
        return frozenset(rule.measure for rule in self.outcome_rules)

    def target_units(self, measure: str) -> frozenset[str]:
        return frozenset(rule.unit for rule in self.outcome_rules if rule.measure == measure)

    def conversion(self, measure: str, from_unit: str, to_unit: str) -> Conversion | None:
        for candidate in self.conversions:
            if (candidate.measure == measure and candidate.from_unit == from_unit
                    and candidate.to_unit == to_unit):
                return candidate
        return None

    def accepted_units(self, measure: str) -> frozenset[str]:
        """The units a value of ``measure`` may be in: convertible to every unit that a
        criterion or disqualifier of the measure names."""
        targets = self.target_units(measure)
        candidates = set(targets) | {c.from_unit for c in self.conversions
                                     if c.measure == measure}
        return frozenset(unit for unit in candidates
                         if all(unit == target or self.conversion(measure, unit, target)
                                for target in targets))


class Listing(NamedTuple):
    provider: str
    valid_from: date


class Event(NamedTuple):
    on: date
    type: str  # one of EVENT_TYPES
    reason: str = ""


class Sample(NamedTuple):
    measure: str
    value: Decimal
    text: str  # the value exactly as reported
    unit: str
    taken_on: date
    source: str
    reference: str = ""  # where the platform stores it (never in a file)


class BaselineValue(NamedTuple):
    value: Decimal
    text: str
    unit: str


_NO_VALUES: Mapping[str, BaselineValue] = MappingProxyType({})


class Baseline(NamedTuple):
    on: date
    values: Mapping[str, BaselineValue] = _NO_VALUES


class PrepatientIn(NamedTuple):
    id: str
    enrolled_on: date
    baseline: Baseline | None
    listings: tuple[Listing, ...]
    events: tuple[Event, ...]
    measurements: tuple[Sample, ...]


class Evidence(NamedTuple):
    """What one criterion or disqualifier saw and decided.

    ``quantity`` is the compared quantity (a sample as reported, or computed and
    rounded to 4 decimals) with ``quantity_text`` as the format writes it;
    ``baseline`` the baseline value compared with (change, percent change).
    """

    rule: str  # "criterion" or "disqualifier"
    measure: str
    unit: str
    op: str
    threshold: Decimal
    samples: tuple[Sample, ...]
    quantity: Decimal | None
    quantity_text: str | None
    baseline: Decimal | None
    baseline_text: str | None
    met: bool
    aggregate: str = ""
    compare: str = ""
    reason: str = ""  # a disqualifier's reason


class Evaluation(NamedTuple):
    id: str
    provider: str | None
    result: Result
    reason: str
    evidence: tuple[Evidence, ...] = ()
    end_date: date | None = None
    event: Event | None = None  # the event that decided (deceased or terminal)


@dataclass(frozen=True)
class ProviderSettlement:
    id: str
    attributed: int
    successes: int
    failures: int
    pending: int
    final: bool
    eligible: bool
    paid_count: int
    amount: Decimal
