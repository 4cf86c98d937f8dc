"""Checks behind ``/healthz``: the database and the message broker."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from kombu import Connection


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return False, type(exc).__name__
    return True, connection.vendor


def check_broker() -> tuple[bool, str]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return True, "eager"
    try:
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
        with Connection(
            str(settings.CELERY_BROKER_URL), connect_timeout=3, transport_options=options
        ) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        return False, type(exc).__name__
    return True, "ok"
