"""The settlements' readers: for the provider API a provider's own figures, lines and
disputes, in computed or approved runs only; for the back-office runs, their lines,
payments and disputes."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.measurements.selectors import measurement_type_names
from apps.programs.models import ProgrammeVersion
from apps.programs.selectors import first_version
from apps.providers.models import Provider
from apps.settlements.models import (
    Dispute,
    DisputeStatus,
    PrepatientLine,
    ProviderLine,
    ProviderPayment,
    RunKind,
    RunStatus,
    SettlementRun,
)

# The runs a provider sees (a run being prepared, computed again or failed is not shown).
VISIBLE_STATUSES = (RunStatus.COMPUTED, RunStatus.APPROVED)


def provider_settlements(provider: Provider) -> QuerySet[ProviderLine]:
    """The provider's line in each visible run, newest first."""
    return (ProviderLine.objects.filter(provider=provider, run__status__in=VISIBLE_STATUSES)
            .select_related("run__programme").order_by("-run__as_of", "-run_id"))


def provider_has_settlement(provider: Provider, run_id: int) -> bool:
    """The visible run ``run_id`` has a line for the provider."""
    return ProviderLine.objects.filter(
        run_id=run_id, provider=provider, run__status__in=VISIBLE_STATUSES,
    ).exists()


def provider_settlement_lines(provider: Provider, run_id: int) -> QuerySet[PrepatientLine]:
    """The prepatients attributed to the provider in the visible run ``run_id``."""
    return PrepatientLine.objects.filter(
        run_id=run_id, run__status__in=VISIBLE_STATUSES,
        provider=provider).select_related("prepatient", "run__programme")


def provider_settlement_line(provider: Provider, run_id: int,
                             pseudonym: str) -> PrepatientLine | None:
    """The provider's line for the programme ID ``pseudonym`` in the visible run ``run_id``."""
    return (PrepatientLine.objects
            .filter(run_id=run_id, run__status__in=VISIBLE_STATUSES,
                    provider=provider, prepatient__pseudonym=pseudonym)
            .select_related("prepatient").defer("prepatient__personnummer").first())


def provider_disputes(provider: Provider, *, status: str | None = None, run_id: int | None = None,
                      pseudonym: str | None = None) -> QuerySet[Dispute]:
    """The provider's disputes, optionally only those with ``status``, of lines in the run
    ``run_id`` or of the programme ID ``pseudonym``'s lines."""
    rows = (Dispute.objects.filter(provider=provider)
            .select_related("line__prepatient", "run__programme")
            .defer("line__prepatient__personnummer"))
    if status is not None:
        rows = rows.filter(status=status)
    if run_id is not None:
        rows = rows.filter(run_id=run_id)
    if pseudonym is not None:
        rows = rows.filter(line__pseudonym=pseudonym)
    return rows


def provider_dispute(provider: Provider, dispute_id: int) -> Dispute:
    """One of the provider's disputes (``Dispute.DoesNotExist`` if it is not theirs)."""
    return provider_disputes(provider).get(pk=dispute_id)


# --- Explanations --------------------------------------------------------------------------


def measure_names() -> dict[str, str]:
    """Measurement type codes and their names in the active language (the words
    ``explain.explain`` names the measures by)."""
    return measurement_type_names()


# --- The back-office ------------------------------------------------------------------------


def run_with_programme(run_id: int) -> SettlementRun | None:
    """The run ``run_id`` with its programme joined (None if there is none)."""
    return SettlementRun.objects.select_related("programme").filter(pk=run_id).first()


def version_payments(version: ProgrammeVersion) -> QuerySet[ProviderPayment]:
    """The payments made for the enrollments under ``version`` (those made before
    programmes had versions count as its first version's)."""
    made_under = Q(programme_version=version)
    if first_version(version.programme) == version:
        made_under |= Q(programme_version__isnull=True, programme_id=version.programme_id)
    return ProviderPayment.objects.filter(made_under)


def run_payments(run: SettlementRun) -> QuerySet[ProviderPayment]:
    """The payments the approval of ``run`` made, with their providers."""
    return run.payments.select_related("provider")


def run_lines_not_final(run: SettlementRun) -> QuerySet[ProviderLine]:
    """The run's provider lines that still have prepatients awaiting evaluation."""
    return (run.provider_lines.filter(final=False).select_related("provider")
            .order_by("provider_id"))


def run_provider_line(run: SettlementRun, provider_id: int) -> ProviderLine | None:
    """The provider's line in ``run``, with the provider (None if it has none)."""
    return (ProviderLine.objects.select_related("provider")
            .filter(run=run, provider_id=provider_id).first())


def provider_report_lines(run: SettlementRun, provider_id: int) -> QuerySet[PrepatientLine]:
    """The prepatient lines of the provider's settlement report in ``run``: by result,
    then programme ID."""
    return (PrepatientLine.objects.filter(run=run, provider_id=provider_id)
            .select_related("prepatient").order_by("result", "pseudonym"))


def run_adjustments(run: SettlementRun) -> QuerySet[SettlementRun]:
    """The adjustment runs that correct ``run``, in the order they were prepared."""
    return run.adjustments.order_by("prepared_at", "pk")


def correcting_run(run: SettlementRun) -> tuple[str, int | None]:
    """The kind of run that corrects ``run``, and the run it names as corrected: an
    approved run is corrected by an adjustment linked to it, a run not yet approved is
    replaced by a new run of the same kind."""
    if run.status == RunStatus.APPROVED:
        return RunKind.ADJUSTMENT.value, run.pk
    return run.kind, None


def open_dispute_count(run: SettlementRun | None = None) -> int:
    """How many disputes await a decision: of ``run``, or of every run."""
    disputes = Dispute.objects.filter(status=DisputeStatus.OPEN)
    if run is not None:
        disputes = disputes.filter(run=run)
    return disputes.count()
