"""Settlement work for the Celery workers and beat."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from apps.settlements import services
from apps.settlements.errors import RunBusy


@shared_task(name="settlements.compute_run", bind=True, acks_late=True,
             reject_on_worker_lost=True, max_retries=None)
def compute_run(self: Any, run_id: int) -> str:
    """Computes a settlement run; safe to deliver twice (idempotent).

    ``acks_late`` with ``reject_on_worker_lost``: a worker process that dies
    mid-run hands the message back to the broker, and another worker computes
    the run again. If another worker holds the run right now, try again later.
    """
    try:
        run = services.settlement_compute(run_id=run_id)
    except RunBusy as busy:
        raise self.retry(countdown=5, exc=busy) from busy
    return f"{run.pk}:{run.status}"


@shared_task(name="settlements.recover_runs")
def recover_runs() -> list[int]:
    """Every minute: runs never handed to the workers (the broker was down) or whose
    worker died are handed to the workers again."""
    return services.settlement_runs_recover()
