"""What a programme definition would do, tried on a synthetic cohort before it is
published: how many candidates its screening and inclusion would take in, how many
would succeed under an assumed share reaching the outcome, and what its payment rule
would then pay each provider, against the budget.

The cohort is drawn with a seed (the same definition and seed give the same figures):
ages 18–89, BMI around 29, a share living in a priority area, each measure an
inclusion check reads drawn around its thresholds, each questionnaire score across
its range. Those included are settled by the settlement rules themselves
(``interchange.parse`` and ``recompute`` on a settlement input built for them), with
outcome values on the successful side of each criterion for the assumed share and on
the other side for the rest, starting from the value that let them in. The money is
that of a programme that fills its cap: ``SETTLED_AT_MOST`` people (or the cap, if
smaller) are settled and their amounts scaled to the cap (an estimate, said so).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from prevention_engine import criteria
from prevention_engine.dates import add_months
from prevention_engine.definition import ProgrammeDefinition, settlement_programme
from prevention_engine.definition import parse as parse_definition
from prevention_engine.interchange import parse, recompute
from prevention_engine.model import Criterion

CANDIDATES = 2000  # synthetic people screened
SETTLED_AT_MOST = 3000  # people settled; a larger enrolment is scaled from this many
PROVIDERS = 3
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class ProviderFigure:
    key: str
    attributed: int
    successes: int
    paid_count: int
    amount: Decimal  # scaled to the enrolment


@dataclass(frozen=True)
class DryRun:
    candidates: int
    referred: int  # earned the next step by the screening (all when there is none)
    included: int
    reasons: Mapping[str, int]  # why the others were not, by reason
    enrolled: int  # the cap: the money is that of a programme that fills it
    settled: int  # how many were settled (scale = enrolled / settled)
    success_share: Decimal
    successes: int  # expected, scaled to the enrolment
    providers: tuple[ProviderFigure, ...]
    total: Decimal
    budget: Decimal

    @property
    def within_budget(self) -> bool:
        return self.total <= self.budget

    @property
    def included_percent(self) -> Decimal:
        return (Decimal(100 * self.included) / Decimal(self.candidates)).quantize(
            Decimal("0.1"))


def dry_run(definition: Mapping[str, Any], *, score_ranges: Mapping[str, tuple[int, int]],
            value_ranges: Mapping[str, tuple[Decimal, Decimal]] | None = None,
            success_share: Decimal = Decimal("0.5"), seed: int = 1,
            candidates: int = CANDIDATES) -> DryRun:
    """The dry run of ``definition`` (checked: ``definition.parse`` raises for one that
    cannot be evaluated); ``score_ranges`` gives each questionnaire's lowest and highest
    score, ``value_ranges`` each measure's plausible range (where a measure is compared
    with its own baseline, its values are drawn from the middle of that range)."""
    terms = parse_definition(definition)
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    bands = _measure_bands(terms, value_ranges or {})
    reasons: Counter[str] = Counter()
    referred = 0
    taken: list[criteria.Facts] = []
    day = terms.timeline.start_date
    for _ in range(candidates):
        facts = _candidate(rng, terms, bands, score_ranges, day)
        if terms.referral and not criteria.decide(terms.referral, facts).included:
            reasons["not_referred"] += 1
            continue
        referred += 1
        verdict = criteria.decide(terms.inclusion, facts)
        if not verdict.included:
            reasons[verdict.reason] += 1
            continue
        taken.append(facts)
    enrolled = terms.cap if taken else 0
    settled = min(enrolled, SETTLED_AT_MOST)
    scale = Decimal(enrolled) / Decimal(settled) if settled else Decimal(0)
    document = _settlement_input(definition, terms, rng, taken, settled, success_share,
                                 bands)
    result = recompute(parse(document))
    providers = tuple(
        ProviderFigure(key=p.id, attributed=round(p.attributed * scale),
                       successes=round(p.successes * scale),
                       paid_count=round(p.paid_count * scale),
                       amount=(p.amount * scale).quantize(CENTS, ROUND_HALF_EVEN))
        for p in result.providers)
    return DryRun(
        candidates=candidates, referred=referred, included=len(taken),
        reasons=dict(reasons.most_common()), enrolled=enrolled, settled=settled,
        success_share=success_share,
        successes=sum(figure.successes for figure in providers), providers=providers,
        total=sum((figure.amount for figure in providers), Decimal("0.00")),
        budget=terms.budget)


# --- The synthetic people -------------------------------------------------------------


def _measure_bands(terms: ProgrammeDefinition,
                   value_ranges: Mapping[str, tuple[Decimal, Decimal]]
                   ) -> dict[str, tuple[Decimal, Decimal, str]]:
    """Each measure a rule reads: the range values are drawn from (its thresholds
    widened) and the source they are reported from."""
    thresholds: dict[str, list[Decimal]] = {}
    sources: dict[str, str] = {}

    def collect(condition: criteria.Condition) -> None:
        if condition.group:
            for member in condition.members:
                collect(member)
        elif condition.subject == "measure" and condition.threshold is not None:
            thresholds.setdefault(condition.measure, []).append(condition.threshold)
            sources.setdefault(condition.measure, condition.sources[0])
    for check in (*terms.inclusion, *terms.referral):
        collect(check.condition)
    bands = {}
    for rule in terms.outcome.criteria:
        sources.setdefault(rule.measure, sorted(rule.sources)[0])
        if rule.measure in thresholds:
            continue
        if rule.compare == "value":
            thresholds[rule.measure] = [rule.threshold]
        elif rule.measure in value_ranges:  # compared with its baseline: typical values
            low, high = value_ranges[rule.measure]
            third = (high - low) / 3
            bands[rule.measure] = (low + third, high - third, sources[rule.measure])
        else:
            thresholds[rule.measure] = [abs(rule.threshold) * 10 or Decimal(10)]
    for measure, values in thresholds.items():
        low, high = min(values), max(values)
        spread = max(high - low, abs(high) * Decimal("0.3"), Decimal(1))
        bands[measure] = (max(Decimal(0), low - spread / 2), high + spread / 2,
                          sources[measure])
    return bands


def _draw(rng: random.Random, low: Decimal, high: Decimal) -> Decimal:
    return (low + (high - low) * Decimal(str(rng.random()))).quantize(Decimal("0.1"))


def _candidate(rng: random.Random, terms: ProgrammeDefinition,
               bands: Mapping[str, tuple[Decimal, Decimal, str]],
               score_ranges: Mapping[str, tuple[int, int]], day: Any) -> criteria.Facts:
    samples = {measure: [criteria.Sample(day, _draw(rng, low, high), source)]
               for measure, (low, high, source) in bands.items()}
    scores = {code: rng.randint(low, high) for code, (low, high) in score_ranges.items()}
    bmi = Decimal(str(round(min(55.0, max(16.0, rng.gauss(29, 5))), 1)))
    return criteria.Facts(on=day, age=rng.randint(18, 89), sex=rng.choice(("F", "M")),
                          bmi=bmi, priority_area=rng.random() < 0.35, samples=samples,
                          scores=scores)


def _outcome_value(rule: Criterion, baseline: Decimal, success: bool) -> Decimal:
    """A value at the end on the successful side of ``rule`` (or the other side)."""
    if rule.compare == "value":
        target = rule.threshold
    elif rule.compare == "change":
        target = baseline + rule.threshold
    else:  # percent_change
        target = baseline * (1 + rule.threshold / 100)
    distance = abs(target - baseline) or abs(target) * Decimal("0.05") or Decimal(1)
    towards_success = -1 if rule.op in ("lt", "le") else 1
    # Past the target by a tenth of the way (success) or short of it by half, and by
    # at least two decimals' worth, so that rounding never lands on the target.
    step = max(distance * (Decimal("0.1") if success else Decimal("0.5")), Decimal("0.2"))
    moved = target + towards_success * step if success else target - towards_success * step
    return max(Decimal("0.1"), moved.quantize(Decimal("0.1")))


def _settlement_input(definition: Mapping[str, Any], terms: ProgrammeDefinition,
                      rng: random.Random, taken: list[criteria.Facts], size: int,
                      success_share: Decimal,
                      bands: Mapping[str, tuple[Decimal, Decimal, str]]) -> dict[str, Any]:
    enrolled_on = terms.timeline.start_date
    end = add_months(enrolled_on, terms.timeline.programme_months)
    people = []
    for index in range(size):
        success = Decimal(str(rng.random())) < success_share
        values, measurements = {}, []
        admitted = taken[index % len(taken)]
        for rule in terms.outcome.criteria:
            low, high, _source = bands[rule.measure]
            known = admitted.samples.get(rule.measure)
            baseline = known[0].value if known else _draw(rng, low, high)
            values[rule.measure] = {"value": str(baseline), "unit": rule.unit}
            measurements.append({"type": rule.measure, "value": str(baseline),
                                 "unit": rule.unit, "taken_on": enrolled_on.isoformat(),
                                 "source": sorted(rule.sources)[0]})
            measurements.append({"type": rule.measure,
                                 "value": str(_outcome_value(rule, baseline, success)),
                                 "unit": rule.unit, "taken_on": end.isoformat(),
                                 "source": sorted(rule.sources)[0]})
        people.append({
            "id": f"dry-{index:06d}", "enrolled_on": enrolled_on.isoformat(),
            "baseline": {"on": enrolled_on.isoformat(), "values": values},
            "listings": [{"provider": f"P{index % PROVIDERS + 1}",
                          "from": enrolled_on.isoformat()}],
            "events": [], "measurements": measurements})
    as_of = end + timedelta(days=terms.outcome.window_days + 1)
    return {"format": "prevention-settlement-input/2", "as_of": as_of.isoformat(),
            "programme": settlement_programme(definition),
            "providers": [{"id": f"P{n}", "name": f"Provider {n}"}
                          for n in range(1, PROVIDERS + 1)],
            "prepatients": people}
