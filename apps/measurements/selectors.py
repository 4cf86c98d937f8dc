"""Readers of measurements: the back-office's overdue list and charts, and what a
provider (through the API) reads of its prepatients' follow-up and values.

Every figure is computed in the database (GROUP BY, a window function, a
correlated subquery); Python only shapes the few aggregated rows it gets back.

Definitions (also in docs/decisions.md):

- **Quarter since enrollment** counts whole months, not days: quarter ``q``
  holds the values taken from month ``3q`` to month ``3q + 3`` after the
  prepatient's enrollment date (month boundaries on the enrollment's day of
  the month). That matches the follow-up schedule (due every 3 calendar
  months) and the outcome at 24 months = the start of quarter 8.
- **A prepatient's value in a quarter** is their latest current (not
  superseded) laboratory value of the programme's outcome measure taken in
  that quarter; every prepatient counts once per quarter. Values taken
  before the enrollment date are not in any quarter. Deceased prepatients
  are left out, as in the evaluation.
- **Median**: ``percentile_cont(0.5)`` on PostgreSQL; SQLite has no
  percentile, so there the values of each quarter are fetched in order
  (``values_list``, one number per prepatient and quarter) and the median is
  taken in Python. Either way it is rounded to 0.01.
- **Follow-up compliance** of a provider: of the due dates already passed
  (``due_on < today``) of the prepatients now listed with it, the share whose
  set is complete. For a prepatient who left (excluded, dropped out, consent
  withdrawn) only the due dates up to the day they left count; deceased
  prepatients are left out.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Cast, ExtractDay, ExtractMonth, ExtractYear, RowNumber
from django.db.models.lookups import LessThan
from django.utils.translation import gettext_lazy as _

from apps.consent.gate import prepatients_for_provider
from apps.core import clock
from apps.measurements import rules
from apps.measurements.errors import MeasurementRefused
from apps.measurements.models import (
    FollowUpDue,
    Measurement,
    MeasurementType,
    ReporterKind,
    SafetyNotice,
)
from apps.programs.models import Programme
from apps.providers.models import Provider
from apps.registry.models import LifecycleEvent, LifecycleEventType, Prepatient, PrepatientState
from prevention_engine import followup
from prevention_engine.settlement import paid_count
from prevention_engine.units import Conversion

MONTHS_PER_QUARTER = 3
CENTS = Decimal("0.01")
SHARE_PLACES = Decimal("0.0001")
LEFT_PROGRAMME = (LifecycleEventType.EXCLUDED, LifecycleEventType.DROPPED_OUT,
                  LifecycleEventType.CONSENT_WITHDRAWN)
STILL_COUNTING = (PrepatientState.ACTIVE, PrepatientState.COMPLETED)


class Median(Aggregate):
    """``percentile_cont(0.5) WITHIN GROUP (ORDER BY …)``: PostgreSQL only."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    allow_distinct = False


def supports_median() -> bool:
    return connection.vendor == "postgresql"


# --- Figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuarterFigure:
    """One quarter since enrollment: prepatients with a value, median, how many below."""

    quarter: int
    n: int
    median: Decimal | None
    below: int

    @property
    def share_below(self) -> float:
        return self.below / self.n if self.n else 0.0

    @property
    def months(self) -> tuple[int, int]:
        """(from, to) months after enrollment: quarter 1 is months 3–6."""
        return self.quarter * MONTHS_PER_QUARTER, (self.quarter + 1) * MONTHS_PER_QUARTER


@dataclass(frozen=True)
class ProviderCompliance:
    provider_id: int | None
    provider_name: str
    due: int
    completed: int

    @property
    def share(self) -> float:
        return self.completed / self.due if self.due else 0.0


@dataclass(frozen=True)
class SeriesPoint:
    taken_on: date
    value: Decimal
    source: str  # a ReporterKind value

    @property
    def source_label(self) -> str:
        return str(ReporterKind(self.source).label)


# --- Quarters since enrollment ------------------------------------------------------------


def quarter_since_enrollment() -> Any:
    """Whole quarters between the prepatient's enrollment and ``taken_on``, in SQL.

    Whole months = the difference in calendar months, less one when the day of
    the month has not been reached yet; a quarter is three whole months.
    Extract() yields numeric on PostgreSQL, hence the cast before the integer
    division.
    """
    months = (
        (ExtractYear("taken_on") - ExtractYear("prepatient__enrolled_on")) * 12
        + ExtractMonth("taken_on") - ExtractMonth("prepatient__enrolled_on")
        - Case(When(LessThan(ExtractDay("taken_on"), ExtractDay("prepatient__enrolled_on")),
                    then=Value(1)), default=Value(0))
    )
    return Cast(months, IntegerField()) / Value(MONTHS_PER_QUARTER)


def programme_values(programme: Programme, code: str) -> QuerySet[Measurement]:
    """Current laboratory values of one type taken on or after enrollment."""
    return (Measurement.objects
            .filter(prepatient__programme=programme, prepatient__enrolled_on__isnull=False,
                    type__code=code, reporter_kind=ReporterKind.LAB,
                    superseded_by__isnull=True,
                    taken_on__gte=F("prepatient__enrolled_on"))
            .exclude(prepatient__state=PrepatientState.DECEASED))


def latest_per_quarter(programme: Programme, code: str) -> QuerySet[Any]:
    """Each prepatient's latest value per quarter since enrollment (one row each),
    annotated with ``quarter``."""
    ranked = (programme_values(programme, code)
              .annotate(quarter=quarter_since_enrollment())
              .annotate(rank=Window(RowNumber(),
                                    partition_by=[F("prepatient_id"), F("quarter")],
                                    order_by=[F("taken_on").desc(), F("pk").desc()]))
              .filter(rank=1))
    return (Measurement.objects.filter(pk__in=ranked.values("pk"))
            .annotate(quarter=quarter_since_enrollment()))


def outcome_by_quarter(programme: Programme, code: str | None = None) -> list[QuarterFigure]:
    """Per quarter since enrollment: prepatients with a value, the median value and how
    many are below the programme's outcome target (``programme.outcome_below``)."""
    code = code or programme.outcome_measure
    rows = latest_per_quarter(programme, code)
    aggregates: dict[str, Any] = {
        "n": Count("pk"),
        "below": Count("pk", filter=Q(value__lt=programme.outcome_below)),
    }
    if supports_median():
        aggregates["median"] = Median("value")
    grouped = list(rows.values("quarter").annotate(**aggregates).order_by("quarter"))
    if not supports_median():
        medians = _medians_in_python(rows)
        for row in grouped:
            row["median"] = medians.get(row["quarter"])
    return [QuarterFigure(quarter=row["quarter"], n=row["n"], below=row["below"],
                          median=_round(row["median"])) for row in grouped]


def _medians_in_python(rows: QuerySet[Any]) -> dict[int, Decimal]:
    """SQLite fallback: one ordered pass over (quarter, value), one number per
    prepatient and quarter; no model instances are built."""
    values: dict[int, list[Decimal]] = defaultdict(list)
    for quarter, value in rows.order_by("quarter", "value").values_list("quarter", "value"):
        values[quarter].append(value)
    return {quarter: statistics.median(numbers) for quarter, numbers in values.items()}


def _round(value: Decimal | float | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(CENTS)


# --- Follow-up compliance per provider ----------------------------------------------------


def compliance_by_provider(programme: Programme,
                           today: date | None = None) -> list[ProviderCompliance]:
    """Completed due dates / due dates already passed, per current provider."""
    today = today or clock.today()
    left_on = (LifecycleEvent.objects
               .filter(prepatient_id=OuterRef("prepatient_id"), type__in=LEFT_PROGRAMME)
               .order_by("-on", "-pk").values("on")[:1])
    rows = (FollowUpDue.objects
            .filter(prepatient__programme=programme, prepatient__enrolled_on__isnull=False,
                    due_on__lt=today)
            .exclude(prepatient__state__in=(PrepatientState.DECEASED,
                                            PrepatientState.CANDIDATE))
            .alias(left_on=Subquery(left_on))
            .filter(Q(prepatient__state__in=STILL_COUNTING) | Q(due_on__lte=F("left_on")))
            .values("prepatient__current_provider_id", "prepatient__current_provider__name")
            .annotate(due=Count("pk"),
                      completed=Count("pk", filter=Q(completed_at__isnull=False)))
            .order_by("prepatient__current_provider__name", "prepatient__current_provider_id"))
    return [ProviderCompliance(provider_id=row["prepatient__current_provider_id"],
                               provider_name=row["prepatient__current_provider__name"] or "",
                               due=row["due"], completed=row["completed"]) for row in rows]


# --- Types -------------------------------------------------------------------------------


def measurement_type_by_code(code: str) -> MeasurementType | None:
    """The measurement type a programme names by its code (None if there is none)."""
    return MeasurementType.objects.filter(code=code).first()


def value_in_stored_unit(code: str, value: Decimal | int | str, unit: str | None,
                        field: str) -> Decimal:
    """A value of type ``code`` in its stored unit, converted from ``unit`` and checked
    against the plausible range; refused (``MeasurementRefused``) naming ``field``."""
    found = type_specs().get(code)
    if found is None:
        raise MeasurementRefused(field="type", code="unknown_type",
                                 message=_("“%(code)s” is not a measurement type.")
                                 % {"code": code})
    kind, spec = found
    return rules.convert_or_refuse(spec, value, kind.canonical_unit if unit is None else unit,
                                   field=field)


def _plain(number: Decimal) -> Decimal:
    """A stored 15.000 as written, 15 (the ranges are told to people in refusals)."""
    normal = number.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral() else normal


def type_specs() -> dict[str, tuple[MeasurementType, rules.TypeSpec]]:
    """The types as stored (data, editable by caseworkers) with their rule specs."""
    specs = {}
    for kind in MeasurementType.objects.prefetch_related("units"):
        specs[kind.code] = (kind, rules.TypeSpec(
            code=kind.code, canonical_unit=kind.canonical_unit,
            decimal_places=kind.decimal_places, plausible_min=_plain(kind.plausible_min),
            plausible_max=_plain(kind.plausible_max),
            conversions=tuple(Conversion(u.unit, u.subtract, u.multiply)
                              for u in kind.units.all()),
            label=kind.name,
        ))
    return specs


@dataclass(frozen=True)
class AcceptedCodes:
    """What LOINC codes and units the intake accepts, from the measurement types (data).

    ``loinc``: LOINC code -> (type code, the unit the code implies or ""): each
    reported (not derived) type's own code, then the codes that imply a unit
    (``rules.UNIT_LOINC``) of the types that exist. ``units``: type code -> its
    accepted units, the canonical unit first.
    """

    loinc: dict[str, tuple[str, str]]
    units: dict[str, tuple[str, ...]]


def accepted_loinc_codes() -> AcceptedCodes:
    """The LOINC codes and units the platform accepts (one query for the types and
    one for their units)."""
    specs = type_specs()
    loinc: dict[str, tuple[str, str]] = {}
    for kind, spec in specs.values():
        if kind.loinc and not kind.derived:
            loinc[kind.loinc] = (spec.code, "")
    loinc.update({code: meaning for code, meaning in rules.UNIT_LOINC.items()
                  if meaning[0] in specs})
    return AcceptedCodes(loinc=loinc,
                         units={code: spec.accepted_units for code, (_k, spec) in specs.items()})


def measurement_type_names(codes: Iterable[str] | None = None) -> dict[str, str]:
    """Type codes and their names in the active language: of every type, or only of
    ``codes`` (no query when ``codes`` is empty)."""
    kinds = MeasurementType.objects.all()
    if codes is not None:
        kinds = kinds.filter(code__in=set(codes))
    return {kind.code: kind.name for kind in kinds}


# --- One prepatient -----------------------------------------------------------------------


def outcome_series(prepatient: Prepatient, *, measure: str | None = None,
                   limit: int = 500) -> list[SeriesPoint]:
    """The prepatient's current values of ``measure`` (default: the programme's first
    outcome measure), oldest first (the latest ``limit``)."""
    code = measure or prepatient.programme.outcome_measure
    rows = (Measurement.objects
            .filter(prepatient=prepatient, type__code=code, superseded_by__isnull=True)
            .order_by("-taken_on", "-pk")
            .values_list("taken_on", "value", "reporter_kind")[:limit])
    return [SeriesPoint(taken_on=taken_on, value=value, source=source)
            for taken_on, value, source in reversed(list(rows))]


# --- The caseworkers' overdue list --------------------------------------------------------


def overdue(queryset: QuerySet[FollowUpDue], today: date | None = None) -> QuerySet[FollowUpDue]:
    """The due dates of ``queryset`` that are overdue today, for active prepatients.

    The SQL form of ``prevention_engine.followup.overdue`` (the set is incomplete
    and today is after its due date: ``completed_at IS NULL AND due_on < today``);
    a test compares the two on generated dates. Every "overdue" the platform shows
    in a list or filters by is this queryset: the caseworkers' list
    (``followups_overdue`` below and the admin's filter) and a provider's
    ``overdue`` filter (``provider_prepatients`` below).
    """
    today = today or clock.today()
    return queryset.filter(completed_at__isnull=True, due_on__lt=today,
                           prepatient__state=PrepatientState.ACTIVE)


def followups_overdue(*, today: date | None = None,
                      provider: Provider | None = None) -> QuerySet[FollowUpDue]:
    """Overdue due dates (``overdue``) of active prepatients; oldest first.

    For a provider: only its own listed prepatients with valid consent.
    """
    today = today or clock.today()
    rows = overdue(FollowUpDue.objects.all(), today)
    if provider is not None:
        rows = rows.filter(prepatient__in=prepatients_for_provider(provider))
    return rows.select_related("prepatient", "prepatient__current_provider").order_by(
        "due_on", "prepatient_id")


# --- One prepatient's follow-up and safety notices -----------------------------------------


def followup_status(*, prepatient: Prepatient) -> list[dict[str, Any]]:
    """Each due date with its window, completeness and the types still missing."""
    required = list(prepatient.programme.followup_measures)
    taken: dict[str, list[date]] = defaultdict(list)
    for code, day in Measurement.objects.filter(
        prepatient=prepatient, superseded_by__isnull=True, type__code__in=required,
    ).values_list("type__code", "taken_on"):
        taken[code].append(day)
    today = clock.today()
    return [{
        "index": due.index, "due_on": due.due_on, "window_start": due.window_start,
        "window_end": due.window_end, "complete": due.completed_at is not None,
        "missing": followup.missing_types(required, taken, due.window_start, due.window_end),
        "overdue": followup.overdue(due_on=due.due_on, complete=due.completed_at is not None,
                                    today=today),
    } for due in FollowUpDue.objects.filter(prepatient=prepatient).order_by("index")]


def followup_dues_of(prepatient: Prepatient) -> QuerySet[FollowUpDue]:
    """The prepatient's due dates, by their number."""
    return FollowUpDue.objects.filter(prepatient=prepatient).order_by("index")


def measurements_of(prepatient: Prepatient) -> QuerySet[Measurement]:
    """Every value of the prepatient, corrections included, oldest first, with its type
    and the value that corrects it (if any) joined."""
    return (Measurement.objects.filter(prepatient=prepatient)
            .select_related("type", "superseded_by").order_by("taken_on", "pk"))


def safety_notices_of(prepatient: Prepatient) -> QuerySet[SafetyNotice]:
    """The prepatient's safety notices, open or closed, oldest first, with the value that
    raised each."""
    return (SafetyNotice.objects.filter(prepatient=prepatient)
            .select_related("measurement__type").order_by("raised_at", "pk"))


def safety_notices_open() -> QuerySet[SafetyNotice]:
    """Every safety notice not yet closed by a lower value."""
    return SafetyNotice.objects.filter(closed_by__isnull=True).select_related(
        "prepatient", "measurement", "provider")


# --- A provider's prepatients (the API) -------------------------------------------------
#
# Every reader of prepatients starts from the consent gate
# (``apps.consent.gate.prepatients_for_provider``), so a prepatient who is not
# listed with the provider, has switched away or has withdrawn consent is simply
# not there. Figures are computed in the database (``Exists``, ``Subquery`` and
# one grouped aggregate), never by a loop over prepatients.


def _has_overdue(today: date) -> Exists:
    return Exists(overdue(FollowUpDue.objects.filter(prepatient_id=OuterRef("pk")), today))


def provider_prepatients(
    provider: Provider, *, today: date | None = None, overdue: bool | None = None
) -> QuerySet[Prepatient]:
    """The provider's visible prepatients with their follow-up figures.

    ``next_due``: the earliest due date, today or later, whose set is not yet
    complete; ``first_open_due``: the earliest due date whose set is not yet
    complete (``is_overdue`` reads it). ``overdue``: an active prepatient with an
    overdue due date (``overdue`` above).
    ``baseline_complete``: the baseline set (index 0) is complete.
    """
    today = today or clock.today()
    open_dues = FollowUpDue.objects.filter(prepatient_id=OuterRef("pk"),
                                           completed_at__isnull=True).order_by()
    next_due = (open_dues.filter(due_on__gte=today).values("prepatient_id")
                .annotate(first=Min("due_on")).values("first"))
    first_open_due = (open_dues.values("prepatient_id")
                      .annotate(first=Min("due_on")).values("first"))
    rows = (prepatients_for_provider(provider)
            .select_related("programme")
            .annotate(
                next_due=Subquery(next_due),
                first_open_due=Subquery(first_open_due),
                baseline_complete=Exists(FollowUpDue.objects.filter(
                    prepatient_id=OuterRef("pk"), index=0, completed_at__isnull=False)),
                safety_notice_open=Exists(SafetyNotice.objects.filter(
                    prepatient_id=OuterRef("pk"), closed_by__isnull=True)),
            ))
    has_overdue = _has_overdue(today)
    if overdue is True:
        rows = rows.filter(has_overdue)
    elif overdue is False:
        rows = rows.exclude(has_overdue)
    return rows


def is_overdue(prepatient: Prepatient, *, today: date | None = None) -> bool:
    """For a row of ``provider_prepatients``: active, and the earliest set not yet
    complete is overdue (``followup.overdue``; if any open set is, that one is)."""
    first_open_due: date | None = prepatient.first_open_due  # type: ignore[attr-defined]
    return (prepatient.state == PrepatientState.ACTIVE and first_open_due is not None
            and followup.overdue(due_on=first_open_due, complete=False,
                                 today=today or clock.today()))


def provider_prepatient(provider: Provider, pseudonym: str) -> Prepatient | None:
    """One visible prepatient, or None (unknown, someone else's, or without consent alike)."""
    return provider_prepatients(provider).filter(pseudonym=pseudonym).first()


def provider_reporter_reference(provider: Provider) -> str:
    """The reporter reference the provider's values are stored under
    (``services.Reporter.for_provider``)."""
    return f"provider:{provider.pk}"


def prepatient_history(prepatient: Prepatient, *, type_code: str | None = None,
                       provider: Provider | None = None) -> QuerySet[Measurement]:
    """Every value of the prepatient, newest first, corrections included (only those of
    the measurement type ``type_code`` when given).

    With ``provider`` (the reader) each row has ``shown_source_reference``: its source
    reference when the provider reported the value, otherwise None (a provider sees
    only its own references).
    """
    rows = (Measurement.objects.filter(prepatient=prepatient)
            .select_related("type", "supersedes")
            .annotate(superseded=Exists(Measurement.objects.filter(supersedes=OuterRef("pk")))))
    if type_code:
        rows = rows.filter(type__code=type_code)
    if provider is not None:
        rows = rows.annotate(shown_source_reference=Case(
            When(reporter=provider_reporter_reference(provider), then=F("source_reference")),
            default=Value(None), output_field=CharField()))
    return rows


# --- A provider's dashboard ---------------------------------------------------------------


@dataclass(frozen=True)
class ProgrammeDashboard:
    """A provider's provisional figures in one programme: a forecast, never a settlement."""

    programme: Programme
    attributed: int
    with_outcome_value: int
    below_target: int

    @property
    def share_below_target(self) -> Decimal | None:
        if not self.with_outcome_value:
            return None
        return (Decimal(self.below_target) / Decimal(self.with_outcome_value)).quantize(
            SHARE_PLACES)

    @property
    def projected_successes(self) -> int:
        """floor(share × N), computed exactly in integers."""
        if not self.with_outcome_value:
            return 0
        return self.below_target * self.attributed // self.with_outcome_value

    @property
    def eligible(self) -> bool:
        return self.attributed >= self.programme.min_attributed

    @property
    def provisional_paid_count(self) -> int:
        return paid_count(attributed=self.attributed, successes=self.projected_successes,
                          floor_share=self.programme.floor_share,
                          ceiling_share=self.programme.ceiling_share,
                          min_attributed=self.programme.min_attributed)

    @property
    def provisional_amount(self) -> Decimal:
        return (self.programme.payment_per_success * self.provisional_paid_count).quantize(CENTS)


def provider_dashboard(provider: Provider) -> list[ProgrammeDashboard]:
    """Per programme: attributed prepatients (listed with the provider, enrolled, not
    deceased) and, among those with valid consent and a current laboratory value of
    the programme's outcome measure, how many have their latest value below target.

    One grouped query per programme; the latest value is a correlated subquery.
    """
    attributed = (Prepatient.objects
                  .filter(current_provider=provider, enrolled_on__isnull=False)
                  .exclude(state__in=(PrepatientState.DECEASED, PrepatientState.CANDIDATE)))
    programmes = Programme.objects.filter(
        pk__in=attributed.values("programme_id")).order_by("start_date", "code")
    rows = {}
    for programme in programmes:
        latest = (Measurement.objects
                  .filter(prepatient_id=OuterRef("pk"), type__code=programme.outcome_measure,
                          reporter_kind=ReporterKind.LAB, superseded_by__isnull=True)
                  .order_by("-taken_on", "-received_at", "-pk").values("value")[:1])
        rows[programme.pk] = (attributed.filter(programme=programme)
                              .annotate(latest=Subquery(latest)).aggregate(
            attributed=Count("pk"),
            with_value=Count("pk", filter=Q(consent_valid=True, latest__isnull=False)),
            below=Count("pk", filter=Q(consent_valid=True,
                                       latest__lt=programme.outcome_below)),
        ))
    return [ProgrammeDashboard(programme=programme,
                               attributed=rows[programme.pk]["attributed"],
                               with_outcome_value=rows[programme.pk]["with_value"],
                               below_target=rows[programme.pk]["below"])
            for programme in programmes]


def measure_ranges() -> dict[str, tuple[Decimal, Decimal]]:
    """Each measurement type's plausible range in its stored unit."""
    return {code: (low, high) for code, low, high in
            MeasurementType.objects.values_list("code", "plausible_min", "plausible_max")}


def measure_units() -> dict[str, list[str]]:
    """Each measurement type's code with the unit its values are stored and compared in."""
    return {code: [unit] for code, unit in
            MeasurementType.objects.values_list("code", "canonical_unit")}
