"""The settlement rules as pure functions (SPEC §3.3–3.4, SETTLEMENT_FORMAT.md).

The evaluation of one prepatient and the settlement of one provider take
plain values and return plain values: no ORM, no clock. The database path,
the auditor's recomputation from a file, and the tests all use these.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum

from apps.core.dates import add_months
from apps.measurements.rules import HBA1C_DCCT_OFFSET, HBA1C_IFCC_FACTOR

TWO_PLACES = Decimal("0.01")


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


@dataclass(frozen=True)
class ProgrammeRules:
    code: str
    programme_months: int
    switch_months: int
    outcome_measure: str
    outcome_below: Decimal
    outcome_unit: str
    outcome_window_days: int
    payment_per_success: Decimal
    currency: str
    floor_share: Decimal
    ceiling_share: Decimal
    min_attributed: int


@dataclass(frozen=True)
class ListingIn:
    provider: str
    valid_from: date


@dataclass(frozen=True)
class EventIn:
    on: date
    type: EventType
    reason: str = ""


@dataclass(frozen=True)
class SampleIn:
    type: str
    value: Decimal
    unit: str
    taken_on: date
    source: str  # "lab", "provider" or "self"
    reference: str = ""  # where the sample is stored (database path only)


@dataclass(frozen=True)
class PrepatientIn:
    id: str
    enrolled_on: date
    baseline: bool
    listings: tuple[ListingIn, ...]
    events: tuple[EventIn, ...]
    measurements: tuple[SampleIn, ...]


@dataclass(frozen=True)
class Evaluation:
    id: str
    provider: str | None
    result: Result
    reason: str
    deciding_sample: SampleIn | None = None
    end_date: date | None = None


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


def end_date(enrolled_on: date, programme_months: int) -> date:
    return add_months(enrolled_on, programme_months)


def to_mmol_per_mol(value: Decimal, unit: str) -> Decimal:
    """HbA1c in mmol/mol (IFCC); a DCCT % value is converted exactly, not rounded."""
    if unit == "%":
        return (value - HBA1C_DCCT_OFFSET) * HBA1C_IFCC_FACTOR
    return value


def provider_on(listings: Sequence[ListingIn], day: date) -> str | None:
    """The provider of the latest listing that has started on ``day`` (input order breaks
    ties), or None before the first listing."""
    chosen: ListingIn | None = None
    for listing in listings:
        if listing.valid_from > day:
            continue
        if chosen is None or listing.valid_from >= chosen.valid_from:
            chosen = listing
    return chosen.provider if chosen else None


def terminal_event(events: Sequence[EventIn], end: date) -> EventIn | None:
    """The earliest event on or before ``end`` that ends participation.

    ``dropped_out`` and ``consent_withdrawn`` always count; an ``excluded``
    counts unless a later ``reinstated`` cancels it (each reinstatement cancels
    the latest exclusion still standing before it). Same-day events keep their
    input order.
    """
    ordered = sorted(enumerate(events), key=lambda pair: (pair[1].on, pair[0]))
    standing: list[EventIn] = []
    terminal: list[EventIn] = []
    for _index, event in ordered:
        if event.type == EventType.EXCLUDED:
            standing.append(event)
        elif event.type == EventType.REINSTATED:
            if standing:
                standing.pop()
        elif event.type in (EventType.DROPPED_OUT, EventType.CONSENT_WITHDRAWN):
            terminal.append(event)
    candidates = [e for e in (*terminal, *standing) if e.on <= end]
    if not candidates:
        return None
    return min(candidates, key=lambda e: (e.on, events.index(e)))


def _reason_for(event: EventIn) -> str:
    if event.type == EventType.EXCLUDED:
        return f"excluded:{event.reason}"
    return event.type.value


def deciding_sample(samples: Iterable[SampleIn], rules: ProgrammeRules,
                    end: date) -> SampleIn | None:
    """The lab outcome sample closest to ``end`` within the window (the later on a tie)."""
    window = timedelta(days=rules.outcome_window_days)
    best: SampleIn | None = None
    for sample in samples:
        if sample.type != rules.outcome_measure or sample.source != "lab":
            continue
        if not end - window <= sample.taken_on <= end + window:
            continue
        if best is None:
            best = sample
            continue
        distance = abs((sample.taken_on - end).days)
        best_distance = abs((best.taken_on - end).days)
        if distance < best_distance or (distance == best_distance
                                        and sample.taken_on > best.taken_on):
            best = sample
    return best


def evaluate_prepatient(prepatient: PrepatientIn, rules: ProgrammeRules,
                        as_of: date) -> Evaluation:
    """SETTLEMENT_FORMAT.md, rules 1–4, for one prepatient."""
    end = end_date(prepatient.enrolled_on, rules.programme_months)
    if any(e.type == EventType.DECEASED and e.on <= end for e in prepatient.events):
        return Evaluation(prepatient.id, None, Result.EXCLUDED, "deceased", end_date=end)
    if not prepatient.baseline:
        return Evaluation(prepatient.id, None, Result.EXCLUDED, "no_baseline", end_date=end)
    terminal = terminal_event(prepatient.events, end)
    if terminal is not None:
        return Evaluation(prepatient.id, provider_on(prepatient.listings, terminal.on),
                          Result.FAILURE, _reason_for(terminal), end_date=end)
    if as_of < end + timedelta(days=rules.outcome_window_days):
        return Evaluation(prepatient.id, provider_on(prepatient.listings, as_of),
                          Result.PENDING, "not_yet_due", end_date=end)
    provider = provider_on(prepatient.listings, end)
    sample = deciding_sample(prepatient.measurements, rules, end)
    if sample is None:
        return Evaluation(prepatient.id, provider, Result.FAILURE, "no_outcome_sample",
                          end_date=end)
    if to_mmol_per_mol(sample.value, sample.unit) >= rules.outcome_below:
        return Evaluation(prepatient.id, provider, Result.FAILURE, "above_target", sample,
                          end_date=end)
    return Evaluation(prepatient.id, provider, Result.SUCCESS, "below_target", sample,
                      end_date=end)


def paid_count(*, attributed: int, successes: int, floor_share: Decimal,
               ceiling_share: Decimal, min_attributed: int) -> int:
    """``max(0, min(S, floor(ceiling·N)) − ceil(floor·N))`` when ``N ≥ minimum``, else 0."""
    if attributed < min_attributed:
        return 0
    ceiling = math.floor(ceiling_share * attributed)
    floor = math.ceil(floor_share * attributed)
    return max(0, min(successes, ceiling) - floor)


def settle_provider(provider_id: str, evaluations: Iterable[Evaluation],
                    rules: ProgrammeRules) -> ProviderSettlement:
    """SETTLEMENT_FORMAT.md: the settlement of one provider from its attributed lines."""
    successes = failures = pending = 0
    for evaluation in evaluations:
        if evaluation.provider != provider_id:
            continue
        if evaluation.result == Result.SUCCESS:
            successes += 1
        elif evaluation.result == Result.FAILURE:
            failures += 1
        elif evaluation.result == Result.PENDING:
            pending += 1
    return settle_counts(provider_id, successes=successes, failures=failures, pending=pending,
                         rules=rules)


def settle_counts(provider_id: str, *, successes: int, failures: int, pending: int,
                  rules: ProgrammeRules) -> ProviderSettlement:
    attributed = successes + failures + pending
    eligible = attributed >= rules.min_attributed
    count = paid_count(attributed=attributed, successes=successes,
                       floor_share=rules.floor_share, ceiling_share=rules.ceiling_share,
                       min_attributed=rules.min_attributed)
    return ProviderSettlement(
        id=provider_id, attributed=attributed, successes=successes, failures=failures,
        pending=pending, final=pending == 0, eligible=eligible, paid_count=count,
        amount=(rules.payment_per_success * count).quantize(TWO_PLACES),
    )


def switch_violation(prepatient: PrepatientIn, rules: ProgrammeRules) -> int | None:
    """The index of the first listing starting after the switching window, if any (rule 5)."""
    last_day = add_months(prepatient.enrolled_on, rules.switch_months)
    for index, listing in enumerate(prepatient.listings):
        if listing.valid_from > last_day:
            return index
    return None
