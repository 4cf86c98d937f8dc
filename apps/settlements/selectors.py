"""The settlements' readers for the provider API: a provider's own figures, lines and
disputes, in computed or approved runs only."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.providers.models import Provider
from apps.settlements.models import Dispute, PrepatientLine, ProviderLine, RunStatus

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
