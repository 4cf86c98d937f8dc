from __future__ import annotations

from celery import shared_task

from apps.providers.models import AuthorizationDecision
from apps.providers.services import authorization_lost_notify


@shared_task(name="providers.notify_authorization_lost")
def notify_authorization_lost(decision_id: int) -> int:
    """Tells the provider's current prepatients they may choose another provider."""
    decision = AuthorizationDecision.objects.select_related("provider").get(pk=decision_id)
    return authorization_lost_notify(decision=decision)
