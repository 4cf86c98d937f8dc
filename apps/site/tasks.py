from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from apps.core import clock
from apps.site.models import FormSubmission

KEEP_SUBMISSIONS = timedelta(days=30)


@shared_task(name="site.purge_form_submissions")
def purge_form_submissions() -> int:
    """Forgets form tokens older than 30 days (a repeat that late is a new request)."""
    deleted, _by_model = FormSubmission.objects.filter(
        created_at__lt=clock.now() - KEEP_SUBMISSIONS).delete()
    return deleted
