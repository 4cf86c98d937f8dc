"""The consent gate: the one place that says whose data may be shared.

Every path that shares a prepatient's data with a provider, a lab or a
researcher goes through these functions. They read the consent state that
the consent services keep on the prepatient in the same transaction as each
consent event, so a withdrawal takes effect for the very next query.
"""

from __future__ import annotations

from django.db.models import QuerySet

from apps.consent.errors import ConsentMissing
from apps.providers.models import Provider
from apps.registry.models import Prepatient, PrepatientState

PROVIDER_VISIBLE_STATES = (PrepatientState.ACTIVE, PrepatientState.EXCLUDED,
                           PrepatientState.COMPLETED)


def consented(queryset: QuerySet[Prepatient] | None = None) -> QuerySet[Prepatient]:
    """Prepatients whose data-sharing consent is valid now."""
    base = Prepatient.objects.all() if queryset is None else queryset
    return base.filter(consent_valid=True)


def research_donors(queryset: QuerySet[Prepatient] | None = None) -> QuerySet[Prepatient]:
    """Prepatients who donate their data to research (and still share data at all)."""
    return consented(queryset).filter(research_consent=True)


def has_valid_consent(prepatient: Prepatient) -> bool:
    return consented().filter(pk=prepatient.pk).exists()


def require_consent(prepatient: Prepatient) -> None:
    """Raises ``ConsentMissing`` unless the prepatient's consent is valid now."""
    if not has_valid_consent(prepatient):
        raise ConsentMissing()


def prepatients_for_provider(provider: Provider) -> QuerySet[Prepatient]:
    """What a provider may see: its own listed prepatients with valid consent."""
    return consented().filter(current_provider=provider, state__in=PROVIDER_VISIBLE_STATES)
