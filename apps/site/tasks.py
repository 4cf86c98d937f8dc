from __future__ import annotations

from celery import shared_task

from apps.site.services import form_submissions_purge


@shared_task(name="site.purge_form_submissions")
def purge_form_submissions() -> int:
    """Forgets form tokens older than 30 days (a repeat that late is a new request)."""
    return form_submissions_purge()
