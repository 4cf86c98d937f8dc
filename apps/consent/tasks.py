from __future__ import annotations

from celery import shared_task

from apps.consent.services import authorization_lost_notify
from apps.providers.selectors import authorization_decision


# The task keeps the name it had in apps.providers, so that a message queued before the
# move is still run.
@shared_task(name="providers.notify_authorization_lost")
def notify_authorization_lost(decision_id: int) -> int:
    """Tells the provider's current prepatients they may choose another provider."""
    decision = authorization_decision(decision_id)
    return authorization_lost_notify(decision=decision)
