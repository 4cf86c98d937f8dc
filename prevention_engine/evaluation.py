"""The evaluation of one prepatient (SPEC §3.3, SETTLEMENT_FORMAT.md rules 1–4).

``evaluate`` takes a prepatient's history and a programme's rules and says
success, failure, excluded or pending, the reason, the provider it is
attributed to and the evidence that decided. Attribution (``provider_on``)
and the terminal event (``terminal_event``) are the same rules the platform
uses everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import TypeVar

from prevention_engine import arithmetic
from prevention_engine.dates import end_date, switch_window_end
from prevention_engine.model import (
    OPERATORS,
    Criterion,
    Disqualifier,
    Evaluation,
    Event,
    EventType,
    Evidence,
    PrepatientIn,
    Result,
    Rules,
    Sample,
)

P = TypeVar("P")

DECEASED = EventType.DECEASED.value
EXCLUDED = EventType.EXCLUDED.value
REINSTATED = EventType.REINSTATED.value
ENDING = frozenset({EventType.DROPPED_OUT.value, EventType.CONSENT_WITHDRAWN.value})


# A prepatient's end date, remembered: enrollment days repeat across a programme.
_end = lru_cache(maxsize=4096)(end_date)


def provider_on(listings: Sequence[tuple[P, date]], day: date) -> P | None:
    """Who the prepatient is listed with on ``day``: the listing with the latest start
    on or before that day (of two with the same start, the later given); None when
    no listing covers the day."""
    found: P | None = None
    found_from: date | None = None
    for provider, valid_from in listings:
        if valid_from <= day and (found_from is None or valid_from >= found_from):
            found, found_from = provider, valid_from
    return found


def terminal_event(events: Sequence[Event], end: date) -> Event | None:
    """The earliest event on or before ``end`` that ends participation.

    Events after ``end`` are ignored. Events are taken by date, then as given; a
    ``reinstated`` cancels the latest ``excluded`` before it that is not yet
    cancelled. ``dropped_out``, ``consent_withdrawn`` and every exclusion left
    standing are terminal; of those on the same day the first given counts.
    """
    ordered = sorted((event for event in events if event.on <= end),
                     key=lambda event: event.on)  # stable: input order within a day
    standing: list[int] = []
    cancelled: set[int] = set()
    for position, event in enumerate(ordered):
        if event.type == EXCLUDED:
            standing.append(position)
        elif event.type == REINSTATED and standing:
            cancelled.add(standing.pop())
    for position, event in enumerate(ordered):
        if event.type in ENDING or (event.type == EXCLUDED and position not in cancelled):
            return event
    return None


def event_reason(event: Event) -> str:
    return f"excluded:{event.reason}" if event.type == EXCLUDED else event.type


class _Plan:
    """A programme's rules prepared once for evaluating many prepatients: the window,
    the measures compared with a baseline, and conversions remembered per value."""

    __slots__ = ("baseline_measures", "converted", "rules", "window")

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.window = timedelta(days=rules.window_days)
        self.baseline_measures = tuple(dict.fromkeys(
            c.measure for c in rules.criteria if c.uses_baseline))
        self.converted: dict[tuple[str, str, str], dict[Decimal, tuple[Decimal, str]]] = {}

    def convert(self, measure: str, value: Decimal, unit: str,
                to_unit: str) -> tuple[Decimal, str | None]:
        """(value in ``to_unit``, its text when computed; None when used as reported)."""
        if unit == to_unit:
            return value, None
        table = self.converted.get((measure, unit, to_unit))
        if table is None:
            table = self.converted[(measure, unit, to_unit)] = {}
        known = table.get(value)
        if known is None:
            conversion = self.rules.conversion(measure, unit, to_unit)
            if conversion is None:  # the reader refuses such input
                raise ValueError(f"no conversion of {measure} from {unit} to {to_unit}")
            result = arithmetic.converted(value, conversion.offset, conversion.factor,
                                          rounding=self.rules.rounding)
            known = table[value] = (result, arithmetic.text4(result) if self.rules.rounding
                                    else format(result, "f"))
        return known


_plans: dict[int, _Plan] = {}


def _plan(rules: Rules) -> _Plan:
    plan = _plans.get(id(rules))
    if plan is None or plan.rules is not rules:
        if len(_plans) > 32:
            _plans.clear()
        plan = _plans[id(rules)] = _Plan(rules)
    return plan


def value_in(rules: Rules, sample: Sample, unit: str) -> Decimal:
    """A sample's value in ``unit``, as the rules compare it (converted and rounded)."""
    return _plan(rules).convert(sample.measure, sample.value, sample.unit, unit)[0]


def _disqualifying(disqualifier: Disqualifier, samples: Sequence[Sample], start: date,
                   last: date, plan: _Plan) -> Evidence | None:
    """The earliest sample (by date, then as given) that satisfies the disqualifier."""
    holds = OPERATORS[disqualifier.op]
    measure, sources, threshold = disqualifier.measure, disqualifier.sources, disqualifier.threshold
    unit = disqualifier.unit
    found: Sample | None = None
    found_on = last
    for sample in samples:
        sample_measure, value, _text, sample_unit, taken_on, source, _reference = sample
        if (sample_measure != measure or source not in sources
                or not start <= taken_on <= found_on
                or (found is not None and taken_on == found_on)):
            continue
        if sample_unit != unit:
            value = plan.convert(measure, value, sample_unit, unit)[0]
        if holds(value, threshold):
            found, found_on = sample, taken_on
    if found is None:
        return None
    value, text = plan.convert(measure, found.value, found.unit, disqualifier.unit)
    return Evidence("disqualifier", measure, disqualifier.unit, disqualifier.op, threshold,
                    (found,), value, text if text is not None else found.text, None, None, True,
                    "", "", disqualifier.reason)


def _closest(samples: list[Sample], end: date) -> Sample:
    """Closest to ``end``; on a tie the later; on the same day the later given."""
    best = samples[0]
    best_distance = abs((best.taken_on - end).days)
    for sample in samples[1:]:
        distance = abs((sample.taken_on - end).days)
        if distance < best_distance or (distance == best_distance
                                        and sample.taken_on >= best.taken_on):
            best, best_distance = sample, distance
    return best


def _criterion(criterion: Criterion, prepatient: PrepatientIn, end: date,
               plan: _Plan) -> Evidence:
    first, last = end - plan.window, end + plan.window
    measure, sources = criterion.measure, criterion.sources
    found = [s for s in prepatient.measurements  # the window first: it excludes the most
             if first <= s.taken_on <= last and s.measure == measure and s.source in sources]
    baseline: Decimal | None = None
    baseline_text: str | None = None
    if criterion.compare != "value":
        assert prepatient.baseline is not None  # rule 1 has excluded anyone without
        given = prepatient.baseline.values[measure]
        baseline, computed = plan.convert(measure, given.value, given.unit, criterion.unit)
        baseline_text = computed if computed is not None else given.text
    if not found:
        return Evidence("criterion", measure, criterion.unit, criterion.op, criterion.threshold,
                        (), None, None, baseline, baseline_text, False, criterion.aggregate,
                        criterion.compare)
    used: tuple[Sample, ...]
    quantity: Decimal
    text: str | None
    if criterion.aggregate == "closest":
        sample = _closest(found, end)
        used = (sample,)
        quantity, text = plan.convert(measure, sample.value, sample.unit, criterion.unit)
        if text is None:
            text = sample.text
    else:
        used = tuple(found)
        quantity = arithmetic.mean([plan.convert(measure, s.value, s.unit, criterion.unit)[0]
                                    for s in found])
        text = arithmetic.text4(quantity)
    if baseline is not None:
        quantity = (arithmetic.change(quantity, baseline) if criterion.compare == "change"
                    else arithmetic.percent_change(quantity, baseline))
        text = arithmetic.text4(quantity)
    return Evidence("criterion", measure, criterion.unit, criterion.op, criterion.threshold,
                    used, quantity, text, baseline, baseline_text,
                    OPERATORS[criterion.op](quantity, criterion.threshold),
                    criterion.aggregate, criterion.compare)


def evaluate(prepatient: PrepatientIn, rules: Rules, as_of: date) -> Evaluation:
    """SETTLEMENT_FORMAT.md rules 1–4 for one prepatient, as of a date."""
    plan = _plan(rules)
    identifier = prepatient.id
    end = _end(prepatient.enrolled_on, rules.programme_months)
    events = prepatient.events
    listings = prepatient.listings
    terminal = None
    if events:
        # 1. Deceased on or before the end: excluded, attributed to nobody.
        deaths = [e for e in events if e.type == DECEASED and e.on <= end]
        if deaths:
            return Evaluation(identifier, None, Result.EXCLUDED, "deceased", (), end,
                              min(deaths, key=lambda e: e.on))
        terminal = terminal_event(events, end)
    # 1. No baseline, or none of a measure a criterion compares with: excluded.
    baseline = prepatient.baseline
    if baseline is None or (plan.baseline_measures and any(
            m not in baseline.values for m in plan.baseline_measures)):
        return Evaluation(identifier, None, Result.EXCLUDED, "no_baseline", (), end)
    # 2. The earliest terminal event: a failure, attributed on the event's day.
    if terminal is not None:
        return Evaluation(identifier, provider_on(listings, terminal.on), Result.FAILURE,
                          event_reason(terminal), (), end, terminal)
    # 3. Not yet due: attributed on the as-of date.
    last = end + plan.window
    if as_of < last:
        return Evaluation(identifier, provider_on(listings, as_of), Result.PENDING,
                          "not_yet_due", (), end)
    # 4. Evaluated, attributed to the provider listed at the end.
    provider = provider_on(listings, end)
    for disqualifier in rules.disqualifiers:
        evidence = _disqualifying(disqualifier, prepatient.measurements,
                                  prepatient.enrolled_on, last, plan)
        if evidence is not None:
            return Evaluation(identifier, provider, Result.FAILURE,
                              f"disqualified:{disqualifier.reason}", (evidence,), end)
    found = tuple([_criterion(criterion, prepatient, end, plan)
                   for criterion in rules.criteria])
    for evidence in found:
        if evidence.quantity is None:
            return Evaluation(identifier, provider, Result.FAILURE,
                              f"no_outcome_sample:{evidence.measure}", found, end)
        if not evidence.met:
            return Evaluation(identifier, provider, Result.FAILURE,
                              f"target_not_met:{evidence.measure}", found, end)
    return Evaluation(identifier, provider, Result.SUCCESS, "target_met", found, end)


def late_listing(prepatient: PrepatientIn, rules: Rules,
                 authorization_ended: dict[str, date]) -> int | None:
    """Rule 5: the index of the first listing that starts after the switching window
    without the provider listed just before it having lost its authorization by
    then; None when every listing is valid."""
    last_day = switch_window_end(prepatient.enrolled_on, rules.switch_months)
    ordered = sorted(enumerate(prepatient.listings), key=lambda pair: pair[1].valid_from)
    previous: str | None = None
    for index, listing in ordered:
        if listing.valid_from > last_day:
            ended = authorization_ended.get(previous) if previous is not None else None
            if (not rules.late_switch_after_lost_authorization or ended is None
                    or ended > listing.valid_from):
                return index
        previous = listing.provider
    return None
