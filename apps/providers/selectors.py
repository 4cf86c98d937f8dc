"""What the provider API reads: querysets scoped to the provider who asks.

Every reader of prepatients starts from the consent gate
(``apps.consent.gate.prepatients_for_provider``), so a prepatient who is not
listed with the provider, has switched away or has withdrawn consent is simply
not there. Figures are computed in the database (``Exists``, ``Subquery`` and
one grouped aggregate), never by a loop over prepatients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Subquery

from apps.consent.gate import prepatients_for_provider
from apps.core import clock
from apps.core.models import OrganisationEvent
from apps.measurements.models import FollowUpDue, Measurement, ReporterKind, SafetyNotice
from apps.measurements.selectors import overdue as overdue_dues
from apps.programs.models import Programme
from apps.providers.models import Provider
from apps.registry.models import Prepatient, PrepatientState
from prevention_engine import followup
from prevention_engine.settlement import paid_count

SHARE_PLACES = Decimal("0.0001")
CENTS = Decimal("0.01")


def provider_prepatients(
    provider: Provider, *, today: date | None = None, overdue: bool | None = None
) -> QuerySet[Prepatient]:
    """The provider's visible prepatients with their follow-up figures.

    ``next_due``: the earliest due date, today or later, whose set is not yet
    complete; ``first_open_due``: the earliest due date whose set is not yet
    complete (``is_overdue`` reads it). ``overdue``: an active prepatient with an
    overdue due date (``apps.measurements.selectors.overdue``).
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
    has_overdue = Exists(overdue_dues(FollowUpDue.objects.filter(prepatient_id=OuterRef("pk")),
                                      today))
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


def prepatient_history(prepatient: Prepatient) -> QuerySet[Measurement]:
    """Every value of the prepatient, newest first, corrections included."""
    return (Measurement.objects.filter(prepatient=prepatient)
            .select_related("type", "supersedes")
            .annotate(superseded=Exists(Measurement.objects.filter(supersedes=OuterRef("pk")))))


def provider_events(provider: Provider, *, after: int, limit: int) -> list[OrganisationEvent]:
    """The provider's event feed after the cursor ``after`` (an event id), oldest first."""
    return list(OrganisationEvent.objects
                .filter(organisation=f"provider:{provider.pk}", pk__gt=after)
                .order_by("pk")[:limit])


# --- Dashboard ---------------------------------------------------------------------


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
