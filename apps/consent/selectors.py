"""The consent readers: the texts in force, the text a page showed, and a person's
consent history.

Whose data may be shared is read through the consent gate (``gate.py``), not here.
"""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from apps.consent.models import ConsentAction, ConsentEvent, ConsentKind, ConsentText
from apps.programs.models import Programme
from apps.registry.models import Prepatient


def consent_text_current(*, programme: Programme, kind: ConsentKind | str) -> ConsentText | None:
    """The newest published version of the programme's text of this kind."""
    return (ConsentText.objects.filter(programme=programme, kind=kind)
            .order_by("-version").first())


def consent_text_shown(*, prepatient: Prepatient, kind: str, pk: int | None) -> ConsentText | None:
    """The consent text a page showed (by its id), if it is of this kind and programme."""
    if pk is None:
        return None
    return ConsentText.objects.filter(pk=pk, kind=kind,
                                      programme=prepatient.programme_id).first()


def consent_events(*, prepatient: Prepatient) -> list[ConsentEvent]:
    """The person's consent events with their texts, oldest first."""
    return list(ConsentEvent.objects.filter(prepatient=prepatient)
                .select_related("text").order_by("at", "pk"))


def consent_withdrawn_on(*, prepatient: Prepatient) -> date | None:
    """When data-sharing consent was last withdrawn, if it is not valid now."""
    if prepatient.consent_valid:
        return None
    event = (ConsentEvent.objects.filter(prepatient=prepatient, kind=ConsentKind.DATA_SHARING)
             .order_by("-at", "-pk").first())
    if event is None or event.action != ConsentAction.WITHDRAW:
        return None
    return timezone.localdate(event.at)
