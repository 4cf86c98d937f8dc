"""Reactions to providers events (the providers app cannot import this app)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from apps.consent.tasks import notify_authorization_lost
from apps.providers.models import AuthorizationDecision
from apps.providers.signals import authorization_lost


@receiver(authorization_lost, sender=AuthorizationDecision)
def tell_prepatients_authorization_lost(sender: Any, decision: AuthorizationDecision,
                                        **kwargs: Any) -> None:
    """Sent after the decision's commit: the email goes out from a worker."""
    notify_authorization_lost.delay(decision.pk)
