from __future__ import annotations

from celery import shared_task

from apps.consent.services import authorization_lost_notify
from apps.providers.models import AuthorizationDecision


# The task keeps the name it had in apps.providers, so that a message queued before the
# move is still run.
@shared_task(name="providers.notify_authorization_lost")
def notify_authorization_lost(decision_id: int) -> int:
    """Tells the provider's current prepatients they may choose another provider."""
    decision = AuthorizationDecision.objects.select_related("provider").get(pk=decision_id)
    return authorization_lost_notify(decision=decision)
