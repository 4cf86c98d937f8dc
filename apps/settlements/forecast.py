"""Expected payout per provider from the quarterly trends of the outcome measure, and
the savings.

``forecast_programme(programme, as_of)`` answers "what will the outcome
payments be when every prepatient enrolled so far has been evaluated, if each
provider's trend holds?", and sets the societal savings of those outcomes
(``apps.settlements.savings``) against the payments.

1. **Decided prepatients** are judged by the settlement rules themselves:
   ``export.settlement_input`` + ``interchange.recompute`` as of ``as_of`` (the
   auditor's rule engine), not the lines of an earlier run, so the forecast is
   as of its own date, needs no prepared run and can never disagree with a run
   computed on the same day. Successes and failures count as they are; excluded
   prepatients (deceased, no baseline) are attributed to nobody and left out.
2. **Quarterly trend** per provider (``quarterly_trend``, one GROUP BY in the
   database): the mean of the current (not superseded) values of the outcome
   measure, from the sources its criterion counts, per quarter since enrollment
   (``selectors``' whole-month quarters: quarter 0 holds the baseline), quarters
   0 … the outcome quarter (the programme's months / 3; 8 for 24 months). Every
   such value counts; the schedule gives about one per quarter (the baseline and
   the first follow-up set may both fall in quarter 0). Taking only each person's
   latest value per quarter would need a window function and doubled the time at
   30,000 prepatients. A prepatient counts when enrolled on or before ``as_of``,
   with a complete baseline set and not dead by their end date (i.e. when the
   rules attribute them at all), for the provider listed on ``as_of``: the rules'
   attribution of a pending prepatient, and of a decided one too, as only active
   prepatients can switch and only in their switching window. Values after
   ``as_of`` are not seen.
3. **Mean quarterly change** of a provider: the average, over every pair of
   consecutive quarters that both have a mean, of ``mean(q + 1) − mean(q)``
   (with no gaps this is ``(last mean − first mean) / quarters between``). A
   provider without two consecutive quarters uses the programme's change
   (the same computed on the pooled quarterly means of all providers); failing
   that, no change (0).
4. **Projection of a pending prepatient**: their latest current value of the
   outcome measure from a counted source, taken on or after enrollment (and on
   or before ``as_of``), plus the provider's mean quarterly change × the quarters
   remaining (the outcome quarter minus the quarter the value was taken in, at
   least 0), rounded half-up to one decimal as outcome values are stored.
   Projected to meet the criterion (the value itself, or its change from the
   baseline value, as the criterion compares) → an expected success. A pending
   prepatient with no such value since enrollment is not expected to succeed.
5. **Expected payout**: ``settle_counts`` with expected successes =
   decided + projected successes out of the same attributed ``N`` (floor,
   ceiling and minimum apply), summed over providers.
6. **Expected societal savings** = expected successes × the model's savings per
   successful prepatient (whole SEK), floor and ceiling notwithstanding: society
   gains from every success, whether or not it is paid. The model runs on the
   version's own savings parameters; a version without them has no savings
   estimate (``None``), not a borrowed one.

All money is ``Decimal``. The result is plain dataclasses (``Forecast``); the
back-office page's charts and tables are built from it by
``apps.settlements.forecast_charts``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Count,
    DecimalField,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    Subquery,
    Sum,
)

from apps.core import clock
from apps.measurements.models import SOURCE_OF, Measurement
from apps.measurements.selectors import (
    MONTHS_PER_QUARTER,
    measurement_type_by_code,
    quarter_since_enrollment,
)
from apps.programs.errors import ProgrammeNotDefined
from apps.programs.models import Programme
from apps.programs.selectors import programme_version_current, version_terms
from apps.registry.models import LifecycleEventType, Listing
from apps.settlements.export import settlement_input
from apps.settlements.savings import (
    Savings,
    SavingsEstimate,
    SavingsParameters,
    parameters_of,
    savings_per_success,
)
from prevention_engine import arithmetic
from prevention_engine.arithmetic import TWO_PLACES
from prevention_engine.evaluation import value_in
from prevention_engine.interchange import ProviderIn, recompute
from prevention_engine.model import (
    OPERATORS,
    Evaluation,
    PrepatientIn,
    ProviderSettlement,
    Result,
    Rules,
    Sample,
)
from prevention_engine.settlement import settle_counts

ONE_DECIMAL = Decimal("0.1")
ZERO = Decimal("0")
# A quarter's sum of values at national scale has more digits than one value's field.
TOTAL: DecimalField[Decimal, Decimal] = DecimalField(max_digits=20, decimal_places=3)


@dataclass(frozen=True)
class Target:
    """The programme's first outcome criterion: what the charts and projections follow
    (its measure from the sources it counts, compared as it compares)."""

    measure: str
    unit: str
    op: str
    threshold: Decimal
    sources: frozenset[str] = frozenset({"lab"})
    compare: str = "value"  # "value", "change" or "percent_change" from the baseline

    @classmethod
    def of(cls, rules: Rules) -> Target:
        first = rules.criteria[0]
        return cls(first.measure, first.unit, first.op, first.threshold,
                   frozenset(first.sources), first.compare)

    def met(self, value: Decimal, baseline: Decimal | None = None) -> bool:
        """Whether ``value`` (in the criterion's unit) meets it; a change is measured
        from ``baseline`` (none: not met)."""
        if self.compare == "value":
            return OPERATORS[self.op](value, self.threshold)
        if baseline is None or (self.compare == "percent_change" and not baseline):
            return False
        quantity = (arithmetic.change(value, baseline) if self.compare == "change"
                    else arithmetic.percent_change(value, baseline))
        return OPERATORS[self.op](quantity, self.threshold)


@dataclass(frozen=True)
class QuarterMean:
    """The values of one quarter since enrollment: how many and their sum."""

    quarter: int
    values: int
    total: Decimal

    @property
    def mean(self) -> Decimal:
        return self.total / self.values

    @property
    def mean_rounded(self) -> Decimal:
        return self.mean.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Projection:
    """One pending prepatient's projected outcome value (never shown per person)."""

    id: str
    provider: str
    latest_value: Decimal | None
    latest_taken_on: date | None
    quarter: int | None  # the quarter since enrollment the latest value is in
    quarters_remaining: int
    change: Decimal  # the mean quarterly change used
    projected: Decimal | None
    expected_success: bool


@dataclass(frozen=True)
class ProviderForecast:
    key: str  # "P<id>", as in the settlement input
    provider_id: int
    name: str
    successes: int  # decided
    failures: int  # decided
    pending: int
    projected_successes: int  # of the pending
    without_value: int  # pending without a laboratory value since enrollment
    quarters: tuple[QuarterMean, ...]
    quarterly_change: Decimal  # the change used for this provider's projections
    change_source: str  # "provider", "programme" or "none"
    expected: ProviderSettlement  # settle_counts with the expected successes
    expected_savings: Decimal | None  # None: the version has no savings model

    @property
    def attributed(self) -> int:
        return self.successes + self.failures + self.pending

    @property
    def expected_successes(self) -> int:
        return self.successes + self.projected_successes

    @property
    def expected_paid_count(self) -> int:
        return self.expected.paid_count

    @property
    def expected_amount(self) -> Decimal:
        return self.expected.amount

    @property
    def savings_ratio(self) -> Decimal | None:
        return ratio(self.expected_savings, self.expected_amount)

    def quarter(self, number: int) -> QuarterMean | None:
        return next((q for q in self.quarters if q.quarter == number), None)


@dataclass(frozen=True)
class Forecast:
    programme: str
    as_of: date
    rules: Rules
    target_quarter: int
    savings: SavingsEstimate | None  # None: the version has no savings model
    providers: tuple[ProviderForecast, ...]
    programme_quarters: tuple[QuarterMean, ...]  # pooled over every provider
    programme_change: Decimal | None
    projections: tuple[Projection, ...]

    @property
    def target(self) -> Target:
        return Target.of(self.rules)

    @property
    def currency(self) -> str:
        return self.rules.payment.currency

    def _sum(self, attribute: str) -> int:
        return sum(getattr(p, attribute) for p in self.providers)

    @property
    def attributed(self) -> int:
        return self._sum("attributed")

    @property
    def successes(self) -> int:
        return self._sum("successes")

    @property
    def failures(self) -> int:
        return self._sum("failures")

    @property
    def pending(self) -> int:
        return self._sum("pending")

    @property
    def projected_successes(self) -> int:
        return self._sum("projected_successes")

    @property
    def without_value(self) -> int:
        return self._sum("without_value")

    @property
    def expected_successes(self) -> int:
        return self._sum("expected_successes")

    @property
    def expected_paid_count(self) -> int:
        return self._sum("expected_paid_count")

    @property
    def expected_amount(self) -> Decimal:
        return sum((p.expected_amount for p in self.providers), Decimal("0.00"))

    @property
    def expected_savings(self) -> Decimal | None:
        if self.savings is None:
            return None
        return sum((p.expected_savings or ZERO for p in self.providers), ZERO)

    @property
    def expected_savings_by_component(self) -> Savings | None:
        if self.savings is None:
            return None
        return self.savings.per_success.times(self.expected_successes)

    @property
    def savings_ratio(self) -> Decimal | None:
        return ratio(self.expected_savings, self.expected_amount)


def ratio(savings: Decimal | None, payments: Decimal) -> Decimal | None:
    """Savings per SEK paid (two decimals); None when nothing is paid or there is no
    savings estimate."""
    if savings is None or not payments:
        return None
    return (savings / payments).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


# --- The quarterly trend (database) ---------------------------------------------------------


def quarterly_trend(programme: Programme, as_of: date) -> dict[int, list[QuarterMean]]:
    """Per provider id: the count and sum of the outcome values per quarter since
    enrollment, quarters 0 … the outcome quarter.

    One aggregate query, on SQLite and PostgreSQL alike: the eligibility of a
    prepatient is a join (baseline set) and a filtered left join (death), the
    provider listed on ``as_of`` a correlated subquery on the listing index; the
    quarter is ``selectors.quarter_since_enrollment``. The outcome type is looked
    up first so the planner sees its id (a join on the code hides how common it is).
    """
    target = programme.programme_months // MONTHS_PER_QUARTER
    outcome = measurement_type_by_code(programme.outcome_measure)
    if outcome is None:
        return {}
    criterion = programme.criteria[0]  # the current version's first outcome criterion
    reporters = [kind for kind, source in SOURCE_OF.items() if source in criterion.sources]
    listed_on = (Listing.objects
                 .filter(prepatient_id=OuterRef("prepatient_id"), valid_from__lte=as_of)
                 .order_by("-valid_from", "-id").values("provider_id")[:1])
    rows = (Measurement.objects
            .alias(death=FilteredRelation("prepatient__lifecycle_events", condition=Q(
                prepatient__lifecycle_events__type=LifecycleEventType.DECEASED,
                prepatient__lifecycle_events__on__lte=as_of)))
            .filter(prepatient__programme=programme, prepatient__enrolled_on__lte=as_of,
                    prepatient__followups__index=0,
                    prepatient__followups__completed_at__isnull=False,
                    type_id=outcome.pk, reporter_kind__in=reporters,
                    superseded_by__isnull=True, taken_on__lte=as_of,
                    taken_on__gte=F("prepatient__enrolled_on"))
            .filter(Q(death__isnull=True) | Q(death__on__gt=F("prepatient__end_date")))
            .annotate(quarter=quarter_since_enrollment(), listed_provider=Subquery(listed_on))
            .values("listed_provider", "quarter")
            .annotate(values=Count("pk"), total=Sum("value", output_field=TOTAL))
            .order_by("listed_provider", "quarter"))
    trend: dict[int, list[QuarterMean]] = defaultdict(list)
    for row in rows:
        if row["listed_provider"] is None or row["quarter"] > target:
            continue
        trend[row["listed_provider"]].append(QuarterMean(
            quarter=row["quarter"], values=row["values"], total=Decimal(row["total"])))
    return dict(trend)


# --- Pure parts -----------------------------------------------------------------------------


def pooled(trends: Iterable[Iterable[QuarterMean]]) -> list[QuarterMean]:
    """Quarterly means over several providers (each value counts once)."""
    values: dict[int, int] = defaultdict(int)
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for trend in trends:
        for quarter in trend:
            values[quarter.quarter] += quarter.values
            totals[quarter.quarter] += quarter.total
    return [QuarterMean(q, values[q], totals[q]) for q in sorted(values)]


def mean_quarterly_change(quarters: Iterable[QuarterMean]) -> Decimal | None:
    """The average of ``mean(q + 1) − mean(q)`` over consecutive quarters with a mean."""
    means = {q.quarter: q.mean for q in quarters if q.values}
    steps = [means[q + 1] - means[q] for q in sorted(means) if q + 1 in means]
    if not steps:
        return None
    return sum(steps, ZERO) / len(steps)


def quarter_since(enrolled_on: date, taken_on: date) -> int:
    """Whole quarters since enrollment, as ``selectors.quarter_since_enrollment`` in SQL."""
    months = ((taken_on.year - enrolled_on.year) * 12 + taken_on.month - enrolled_on.month
              - (1 if taken_on.day < enrolled_on.day else 0))
    return months // MONTHS_PER_QUARTER


def project(prepatient: PrepatientIn, provider: str, change: Decimal, rules: Rules,
            target_quarter: int) -> Projection:
    """The pending prepatient's value at the outcome point, from their latest value of
    the outcome measure from a source the criterion counts; a change is measured from
    their baseline value."""
    target = Target.of(rules)
    latest = None
    for sample in prepatient.measurements:  # ordered by date, then database id
        if (sample.measure == target.measure and sample.source in target.sources
                and sample.taken_on >= prepatient.enrolled_on):
            latest = sample
    if latest is None:
        return Projection(id=prepatient.id, provider=provider, latest_value=None,
                          latest_taken_on=None, quarter=None, quarters_remaining=0,
                          change=change, projected=None, expected_success=False)
    value = value_in(rules, latest, target.unit)
    quarter = quarter_since(prepatient.enrolled_on, latest.taken_on)
    remaining = max(0, target_quarter - quarter)
    projected = (value + change * remaining).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)
    return Projection(id=prepatient.id, provider=provider, latest_value=value,
                      latest_taken_on=latest.taken_on, quarter=quarter,
                      quarters_remaining=remaining, change=change, projected=projected,
                      expected_success=target.met(projected, _baseline(prepatient, rules,
                                                                       target)))


def _baseline(prepatient: PrepatientIn, rules: Rules, target: Target) -> Decimal | None:
    """The prepatient's baseline value of the target's measure in its unit (None when it
    compares values, or there is none)."""
    if target.compare == "value" or prepatient.baseline is None:
        return None
    given = prepatient.baseline.values.get(target.measure)
    if given is None:
        return None
    return value_in(rules, Sample(target.measure, given.value, given.text, given.unit,
                                  prepatient.baseline.on, "baseline"), target.unit)


# --- The forecast -------------------------------------------------------------------------


def forecast_programme(programme: Programme, as_of: date | None = None,
                       parameters: SavingsParameters | None = None) -> Forecast:
    """The forecast of a programme as of a date (default: today): of the enrollments
    under its current version, by that version's rules and savings parameters (or
    ``parameters``, to try others)."""
    as_of = as_of or clock.today()
    version = programme_version_current(programme)
    if version is None:
        raise ProgrammeNotDefined()
    if parameters is None:
        terms = version_terms(version)
        parameters = parameters_of(terms.savings, terms.currency)
    data = settlement_input(version, as_of, None)
    result = recompute(data)
    trend = quarterly_trend(programme, as_of)
    return assemble(
        data_prepatients=data.prepatients, evaluations=result.evaluations,
        providers=data.providers, rules=data.rules, as_of=as_of, trend=trend,
        savings=savings_per_success(parameters) if parameters is not None else None,
        programme=programme.code,
    )


def assemble(*, data_prepatients: Iterable[PrepatientIn], evaluations: Iterable[Evaluation],
             providers: Iterable[ProviderIn], rules: Rules, as_of: date,
             trend: Mapping[int, list[QuarterMean]], savings: SavingsEstimate | None,
             programme: str) -> Forecast:
    """Puts the rule engine's evaluations, the trend and the savings model together."""
    target_quarter = rules.programme_months // MONTHS_PER_QUARTER
    programme_quarters = pooled(trend.values())
    programme_change = mean_quarterly_change(programme_quarters)
    changes: dict[str, tuple[Decimal, str]] = {}
    providers = list(providers)
    for key, _name, _ended in providers:
        own = mean_quarterly_change(trend.get(int(key[1:]), []))
        if own is not None:
            changes[key] = (own, "provider")
        elif programme_change is not None:
            changes[key] = (programme_change, "programme")
        else:
            changes[key] = (ZERO, "none")

    by_id = {prepatient.id: prepatient for prepatient in data_prepatients}
    counts: dict[str, dict[str, int]] = {key: defaultdict(int)
                                         for key, _name, _ended in providers}
    projections = []
    for evaluation in evaluations:
        if evaluation.provider is None or evaluation.result == Result.EXCLUDED:
            continue
        tally = counts[evaluation.provider]
        tally[evaluation.result.value] += 1
        if evaluation.result == Result.PENDING:
            projection = project(by_id[evaluation.id], evaluation.provider,
                                 changes[evaluation.provider][0], rules, target_quarter)
            projections.append(projection)
            tally["projected"] += int(projection.expected_success)
            tally["without_value"] += int(projection.latest_value is None)

    per_success = savings.per_success.total if savings is not None else None
    forecasts = []
    for key, name, _ended in providers:
        tally = counts[key]
        decided = tally[Result.SUCCESS.value]
        failures = tally[Result.FAILURE.value]
        pending = tally[Result.PENDING.value]
        if decided + failures + pending == 0:
            continue
        expected_successes = decided + tally["projected"]
        attributed = decided + failures + pending
        expected = settle_counts(key, successes=expected_successes,
                                 failures=attributed - expected_successes, pending=0,
                                 payment=rules.payment)
        change, source = changes[key]
        forecasts.append(ProviderForecast(
            key=key, provider_id=int(key[1:]), name=name, successes=decided,
            failures=failures, pending=pending, projected_successes=tally["projected"],
            without_value=tally["without_value"], quarters=tuple(trend.get(int(key[1:]), [])),
            quarterly_change=change, change_source=source, expected=expected,
            expected_savings=(per_success * expected_successes if per_success is not None
                              else None),
        ))
    return Forecast(programme=programme, as_of=as_of, rules=rules,
                    target_quarter=target_quarter, savings=savings,
                    providers=tuple(forecasts), programme_quarters=tuple(programme_quarters),
                    programme_change=programme_change, projections=tuple(projections))
