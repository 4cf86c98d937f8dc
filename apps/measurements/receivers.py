"""Reactions to registry events (the registry cannot import this app)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from apps.measurements.services import followup_schedule_create
from apps.registry.models import Prepatient
from apps.registry.signals import prepatient_enrolled


@receiver(prepatient_enrolled, sender=Prepatient)
def create_followup_schedule(sender: Any, prepatient: Prepatient, **kwargs: Any) -> None:
    followup_schedule_create(prepatient=prepatient)
