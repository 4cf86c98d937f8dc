"""A worker killed in the middle of a settlement run: the run still completes, with the
same lines as an uninterrupted computation.

A real Celery worker (the configured broker: Redis in CI) computes a run while
the test holds a lock on a table the computation reads, so the worker is
caught mid-run, inside its SQL. Then:

- the worker's pool process is killed: the worker hands the message back
  (``acks_late`` with ``reject_on_worker_lost``) and computes the run again;
- the whole worker is killed: the message stays with the broker, and the
  periodic check (``settlement_runs_recover``) finds the run stalled and hands
  it to a new worker.

The worker reads the test database, so these need PostgreSQL and a broker: they
are skipped elsewhere and fail in CI (``REQUIRE_POSTGRES``, ``REQUIRE_BROKER``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from apps.core import clock
from apps.measurements.models import FollowUpDue
from apps.measurements.services import Reporter, measurement_record
from apps.programs.selectors import programme_version_current
from apps.registry.services import lifecycle_drop_out, prepatient_enroll
from apps.settlements.models import PrepatientLine, RunKind, RunStatus, SettlementRun
from apps.settlements.services import settlement_compute, settlement_runs_recover
from prevention.celery import app as celery_app
from tests.factories import ProviderFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2028, 10, 1)

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_broker() -> Iterator[str]:
    """The test process sends tasks to the configured broker, as the platform does."""
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail("REQUIRE_POSTGRES is set but the tests do not run on PostgreSQL")
        pytest.skip("a worker process reads the test database: needs PostgreSQL")
    broker = settings.TEST_BROKER_URL
    if not broker or broker.startswith("filesystem"):
        if os.environ.get("REQUIRE_BROKER"):
            pytest.fail("REQUIRE_BROKER is set but no CELERY_BROKER_URL is configured")
        pytest.skip("needs a message broker (CI: Redis)")
    queue = f"settlements-{uuid.uuid4().hex[:8]}"
    saved = (celery_app.conf.task_always_eager, celery_app.conf.broker_url,
             celery_app.conf.task_routes)
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=broker,
                           CELERY_TASK_ROUTES={"settlements.compute_run": {"queue": queue}})
    _forget_connections_and_routes()
    try:
        yield queue
    finally:
        celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=saved[0], CELERY_BROKER_URL=saved[1],
                               CELERY_TASK_ROUTES=saved[2])
        _forget_connections_and_routes()


def _forget_connections_and_routes() -> None:
    """The client reads the broker and the routes set now, not the ones it cached."""
    import kombu.pools

    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.amqp.flush_routes()
    celery_app.amqp.__dict__.pop("router", None)


def _database_url() -> str:
    db = connection.settings_dict
    return (f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}")


def _conninfo() -> str:
    db = connection.settings_dict
    return (f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} dbname={db['NAME']} "
            f"user={db['USER']} password={db['PASSWORD']}")


def _start_worker(queue: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "CELERY_RESULT_BACKEND"}
    env.update(DJANGO_SETTINGS_MODULE="prevention.settings.test",
               DATABASE_URL=_database_url(), CELERY_BROKER_URL=settings.TEST_BROKER_URL)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "prevention", "worker", "--pool=prefork",
         "--concurrency=1", "-Q", queue, "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--loglevel=INFO"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _stop(worker: subprocess.Popen[str]) -> str:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
    return worker.stdout.read() if worker.stdout else ""


def _wait_for(condition: Callable[[], bool], what: str, seconds: float,
              worker: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if worker is not None and worker.poll() is not None:
            pytest.fail(f"the worker exited while waiting for {what}:\n{_stop(worker)}")
        if time.monotonic() > deadline:
            output = _stop(worker) if worker is not None else ""
            pytest.fail(f"not within {seconds} s: {what}\n{output}")
        time.sleep(0.2)


def _status(run_id: int) -> str:
    return SettlementRun.objects.filter(pk=run_id).values_list("status", flat=True)[0]


def _lines(run_id: int) -> dict[str, tuple[Any, ...]]:
    return {line.pseudonym: (line.provider_id, line.result, line.reason, line.decided_on,
                             line.evidence)
            for line in PrepatientLine.objects.filter(run_id=run_id)}


@pytest.fixture
def reference(make_candidate: Any, programme: Any) -> SettlementRun:
    """A small programme at its end and the run computed without interruption."""
    provider = ProviderFactory()
    lab = Reporter.for_lab("worker-loss-lab")
    for index, value in enumerate(["40", "44", "50", "41"]):
        with clock.travel_to(date(2026, 8, 3)):
            person = prepatient_enroll(prepatient=make_candidate(), provider=provider)
            FollowUpDue.objects.filter(prepatient=person, index=0).update(
                completed_at=clock.now())
        with clock.travel_to(date(2028, 8, 3)):
            measurement_record(prepatient=person, type="hba1c", value=value, unit="mmol/mol",
                               taken_on=date(2028, 8, 3), reporter=lab,
                               source_reference=f"loss-{index}")
        if index == 3:
            with clock.travel_to(date(2027, 3, 1)):
                lifecycle_drop_out(prepatient=person, note="moved")
    with clock.travel_to(AS_OF):
        run = SettlementRun.objects.create(programme=programme, kind=RunKind.PROVISIONAL,
                                           programme_version=programme_version_current(
                                               programme),
                                           as_of=AS_OF, prepared_by=UserFactory(),
                                           prepared_at=clock.now())
        computed = settlement_compute(run_id=run.pk)
    assert computed.status == RunStatus.COMPUTED and len(_lines(computed.pk)) == 4
    return computed


def _queued_like(run: SettlementRun) -> SettlementRun:
    return SettlementRun.objects.create(programme=run.programme, kind=run.kind,
                                        programme_version=run.programme_version,
                                        as_of=run.as_of, prepared_by=run.prepared_by,
                                        prepared_at=run.prepared_at)


def _caught_mid_run(run: SettlementRun, queue: str) -> tuple[psycopg.Connection[Any],
                                                             subprocess.Popen[str]]:
    """A worker computing ``run``, held inside its SQL by a lock the test owns."""
    from apps.settlements.tasks import compute_run

    blocker = psycopg.connect(_conninfo())
    worker = _start_worker(queue)
    try:
        blocker.execute("LOCK TABLE registry_listing IN ACCESS EXCLUSIVE MODE")
        compute_run.apply_async((run.pk,))
        _wait_for(lambda: _status(run.pk) == RunStatus.COMPUTING, "the worker starts the run",
                  90, worker)
        time.sleep(0.5)  # into the statement, waiting for the lock
        assert _status(run.pk) == RunStatus.COMPUTING
    except BaseException:
        blocker.close()
        _stop(worker)
        raise
    return blocker, worker


def test_a_killed_pool_process_hands_the_run_back_and_it_completes_with_the_same_lines(
    real_broker: str, reference: SettlementRun,
) -> None:
    run = _queued_like(reference)
    blocker, worker = _caught_mid_run(run, real_broker)
    try:
        pool = _children(worker.pid)
        assert pool, "the worker has no pool process"
        for pid in pool:
            os.kill(pid, signal.SIGKILL)
        blocker.rollback()  # the lock goes; the killed process's statement ends with it
        _wait_for(lambda: _status(run.pk) == RunStatus.COMPUTED,
                  "the run is computed again", 120, worker)
    finally:
        blocker.close()
        output = _stop(worker)
    assert "WorkerLostError" in output or "lost" in output.lower(), output
    computed = SettlementRun.objects.get(pk=run.pk)
    assert computed.attempts >= 2
    assert _lines(run.pk) == _lines(reference.pk)
    assert computed.total_amount == reference.total_amount


def test_a_killed_worker_is_replaced_and_the_periodic_check_completes_its_run(
    real_broker: str, reference: SettlementRun,
) -> None:
    run = _queued_like(reference)
    blocker, worker = _caught_mid_run(run, real_broker)
    try:
        for pid in _children(worker.pid):
            os.kill(pid, signal.SIGKILL)
        os.kill(worker.pid, signal.SIGKILL)  # the whole worker: nothing hands the message back
        worker.wait(timeout=20)
        blocker.rollback()
    finally:
        blocker.close()
    assert _status(run.pk) == RunStatus.COMPUTING
    replacement = _start_worker(real_broker)
    try:
        def recovered() -> bool:
            with clock.travel_to(clock.now() + timedelta(minutes=5)):
                settlement_runs_recover()  # what beat runs every minute
            return _status(run.pk) == RunStatus.COMPUTED

        _wait_for(recovered, "the periodic check hands the run to the new worker", 120,
                  replacement)
    finally:
        _stop(replacement)
    assert _lines(run.pk) == _lines(reference.pk)
    assert SettlementRun.objects.get(pk=run.pk).total_amount == reference.total_amount
