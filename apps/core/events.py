"""The event feeds of organisations (see ``OrganisationEvent``) and the kinds of event.

Core is plumbing: it knows no kind of event. Each app registers the kinds it
publishes in its own ``events.py`` (imported by its ``AppConfig.ready``), so a new
kind needs no change here and no migration.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from apps.core import clock
from apps.core.models import OrganisationEvent

_KINDS: dict[str, Any] = {}  # code: label, in the order registered


def register_kind(code: str, label: Any) -> str:
    """Registers a kind of event (its code, and its label for people); returns the code.
    The same code registered twice with another label is a mistake in the code."""
    known = _KINDS.get(code)
    if known is not None and str(known) != str(label):
        raise ImproperlyConfigured(f"The event kind {code!r} is registered twice.")
    if len(code) > (OrganisationEvent._meta.get_field("kind").max_length or 0):
        raise ImproperlyConfigured(f"The event kind {code!r} is too long.")
    _KINDS[code] = label
    return code


def registered_kinds() -> dict[str, Any]:
    """Every kind of event an app publishes: code and label."""
    return dict(_KINDS)


def kind_label(code: str) -> Any:
    return _KINDS.get(code, code)


def provider_label(provider_id: int) -> str:
    return f"provider:{provider_id}"


def publish(*, organisation: str, kind: str, subject: str, on: date | None = None,
            **data: Any) -> OrganisationEvent:
    """Records an event; call it inside the transaction that makes the change."""
    if kind not in _KINDS:
        raise ValueError(f"{kind!r} is not a registered kind of event")
    return OrganisationEvent.objects.create(
        organisation=organisation, kind=str(kind), subject=subject,
        occurred_on=on or clock.today(), data=data, created_at=clock.now(),
    )


def publish_to_provider(*, provider_id: int | None, kind: str, subject: str,
                        on: date | None = None, **data: Any) -> None:
    if provider_id is not None:
        publish(organisation=provider_label(provider_id), kind=kind, subject=subject, on=on,
                **data)
