from __future__ import annotations

from celery import shared_task

from apps.settlements.services import settlement_compute


@shared_task(name="settlements.compute_run", acks_late=True)
def compute_run(run_id: int) -> str:
    """Computes a settlement run; safe to re-run after a crash (idempotent)."""
    run = settlement_compute(run_id=run_id)
    return f"{run.pk}:{run.status}"
