"""The providers' readers: an organisation's API key and a provider's event feed.

What a provider reads of its prepatients (follow-up, values, the dashboard) is
read by the app that owns that data (``apps.measurements.selectors``), through
the consent gate.
"""

from __future__ import annotations

from apps.core.models import OrganisationEvent
from apps.providers.models import ApiCredential, Provider


def api_credential_for_prefix(prefix: str) -> ApiCredential | None:
    """The key with this prefix, its organisation loaded (None if there is none)."""
    return ApiCredential.objects.select_related("provider", "lab").filter(prefix=prefix).first()


def provider_events(provider: Provider, *, after: int, limit: int) -> list[OrganisationEvent]:
    """The provider's event feed after the cursor ``after`` (an event id), oldest first."""
    return list(OrganisationEvent.objects
                .filter(organisation=f"provider:{provider.pk}", pk__gt=after)
                .order_by("pk")[:limit])
