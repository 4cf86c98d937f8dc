"""Daily follow-up work for Celery beat. Each task is idempotent: a second run on
the same day changes nothing more than the first."""

from __future__ import annotations

from celery import shared_task

from apps.measurements import services


@shared_task(name="measurements.send_reminders")
def send_reminders() -> int:
    return services.followups_send_reminders()


@shared_task(name="measurements.exclude_missed_followups")
def exclude_missed_followups() -> int:
    return services.followups_exclude_missed()


@shared_task(name="measurements.complete_ended_periods")
def complete_ended_periods() -> int:
    return services.prepatients_complete_ended()
