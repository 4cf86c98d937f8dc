from __future__ import annotations

from celery import shared_task


@shared_task(name="core.ping")
def ping(payload: str = "ping") -> str:
    """A round-trip check for workers and brokers."""
    return f"pong:{payload}"
