"""Reactions to providers' and programmes' events (those apps cannot import this app)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from apps.consent.services import consent_text_of_definition
from apps.consent.tasks import notify_authorization_lost
from apps.programs.models import ProgrammeVersion
from apps.programs.signals import version_published
from apps.providers.models import AuthorizationDecision
from apps.providers.signals import authorization_lost


@receiver(authorization_lost, sender=AuthorizationDecision)
def tell_prepatients_authorization_lost(sender: Any, decision: AuthorizationDecision,
                                        **kwargs: Any) -> None:
    """Sent after the decision's commit: the email goes out from a worker."""
    notify_authorization_lost.delay(decision.pk)


@receiver(version_published, sender=ProgrammeVersion)
def publish_the_version_s_consent_text(sender: Any, version: ProgrammeVersion,
                                       **kwargs: Any) -> None:
    """In the publishing transaction: what people agree to is the definition's text."""
    consent_text_of_definition(version=version)
