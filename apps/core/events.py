"""Publishing to an organisation's event feed (see ``OrganisationEvent``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from apps.core import clock
from apps.core.models import OrganisationEvent, OrganisationEventKind


def provider_label(provider_id: int) -> str:
    return f"provider:{provider_id}"


def publish(*, organisation: str, kind: OrganisationEventKind | str, subject: str,
            on: date | None = None, **data: Any) -> OrganisationEvent:
    """Records an event; call it inside the transaction that makes the change."""
    return OrganisationEvent.objects.create(
        organisation=organisation, kind=kind, subject=subject,
        occurred_on=on or clock.today(), data=data, created_at=clock.now(),
    )


def publish_to_provider(*, provider_id: int | None, kind: OrganisationEventKind | str,
                        subject: str, on: date | None = None, **data: Any) -> None:
    if provider_id is not None:
        publish(organisation=provider_label(provider_id), kind=kind, subject=subject, on=on,
                **data)
