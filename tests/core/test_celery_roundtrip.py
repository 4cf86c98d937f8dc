"""A real worker, a real broker: a task goes out and its result comes back.

With CELERY_BROKER_URL set (CI: Redis) the worker uses it; otherwise kombu's
filesystem transport stands in, so the round-trip is real on a fresh machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.broker


def _broker_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CELERY_RESULT_BACKEND"}
    env["DJANGO_SETTINGS_MODULE"] = "prevention.settings.test"
    if settings.TEST_BROKER_URL:
        env["CELERY_BROKER_URL"] = settings.TEST_BROKER_URL
    else:
        if os.environ.get("REQUIRE_BROKER"):
            pytest.fail("REQUIRE_BROKER is set but no CELERY_BROKER_URL is configured")
        env["CELERY_BROKER_URL"] = "filesystem://"
        env["CELERY_FILESYSTEM_DIR"] = str(tmp_path / "celery")
    return env


def _client_app(env: dict[str, str]) -> Celery:
    """A client configured from the same settings the worker reads."""
    probe = subprocess.run(
        [sys.executable, "-c",
         "import django,json; django.setup(); from django.conf import settings as s; "
         "print(json.dumps([s.CELERY_BROKER_URL, s.CELERY_RESULT_BACKEND, "
         "getattr(s, 'CELERY_BROKER_TRANSPORT_OPTIONS', {})]))"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60,
    )
    import json

    broker, backend, options = json.loads(probe.stdout.strip().splitlines()[-1])
    app = Celery("roundtrip-client", broker=broker, backend=backend)
    app.conf.broker_transport_options = options
    app.conf.task_serializer = app.conf.result_serializer = "json"
    return app


def test_a_task_round_trips_through_the_broker_and_a_real_worker(tmp_path: Path) -> None:
    env = _broker_env(tmp_path)
    queue = f"roundtrip-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "prevention", "worker", "--pool=solo",
         "--concurrency=1", "-Q", queue, "--without-gossip", "--without-mingle",
         "--loglevel=WARNING"],
        cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        app = _client_app(env)
        payload = uuid.uuid4().hex
        result = app.send_task("core.ping", args=[payload], queue=queue)
        deadline = time.monotonic() + 60
        while not result.ready():
            if worker.poll() is not None:
                output = worker.stdout.read() if worker.stdout else ""
                pytest.fail(f"the worker exited early:\n{output}")
            if time.monotonic() > deadline:
                pytest.fail("no result from the worker within 60 s")
            time.sleep(0.2)
        assert result.get(timeout=5) == f"pong:{payload}"
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
