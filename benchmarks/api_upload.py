"""Bulk upload through HTTP (a real server process on loopback) against the intake
service alone, on the benchmark database after the programme has been generated.

Both sides store the same number of values for the same provider's prepatients,
in batches of the same size, each with fresh idempotency keys; the inserted
values are deleted afterwards so the programme stays as generated.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TYPES = [("hba1c", "40", "mmol/mol"), ("triglycerides", "1.40", "mmol/L"),
         ("cholesterol_total", "4.90", "mmol/L"), ("ldl", "2.80", "mmol/L"),
         ("hdl", "1.30", "mmol/L")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _items(pseudonyms: list[str], count: int, tag: str, day: date) -> list[dict[str, str]]:
    items = []
    for index in range(count):
        code, value, unit = TYPES[index % len(TYPES)]
        items.append({"prepatient": pseudonyms[index % len(pseudonyms)], "type": code,
                      "value": value, "unit": unit, "taken_on": day.isoformat(),
                      "source_reference": f"bench-{tag}-{index}"})
    return items


def _wait_for(port: int, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the API server exited during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status in (200, 503):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the API server did not answer within 60 s")


def run_api_case(*, values: int, batch: int = 1000,
                 out: Callable[[str], None] = print) -> dict[str, Any]:
    """Returns values/s through HTTP and through the service, and their ratio."""
    from django.db import connection
    from django.db.models import Count

    from apps.consent.gate import prepatients_for_provider
    from apps.core import clock
    from apps.measurements.models import Measurement
    from apps.measurements.services import MeasurementInput, Reporter, measurements_record_batch
    from apps.providers.models import Provider
    from apps.providers.services import api_credential_issue, api_credential_revoke

    provider = (Provider.objects.annotate(n=Count("current_prepatients"))
                .order_by("-n").first())
    if provider is None:
        raise RuntimeError("no provider: generate the programme first")
    pseudonyms = list(prepatients_for_provider(provider).values_list("pseudonym", flat=True)
                      [:2000])
    if not pseudonyms:
        raise RuntimeError("the provider has no visible prepatients")
    day = clock.today()
    run = uuid.uuid4().hex[:8]

    # The intake service alone.
    service_items = [MeasurementInput(prepatient=i["prepatient"], type=i["type"],
                                      value=i["value"], unit=i["unit"], taken_on=day,
                                      source_reference=i["source_reference"])
                     for i in _items(pseudonyms, values, f"svc-{run}", day)]
    reporter = Reporter.for_provider(provider)
    started = time.perf_counter()
    for offset in range(0, values, batch):
        result = measurements_record_batch(items=service_items[offset:offset + batch],
                                           reporter=reporter, all_or_nothing=True)
        assert result.committed and result.stored == len(service_items[offset:offset + batch])
    service_seconds = time.perf_counter() - started

    # The same through HTTP, to a real server process (gunicorn) on loopback.
    credential, key = api_credential_issue(provider=provider, label=f"benchmark {run}",
                                           scopes=["measurements:write"])
    port = _free_port()
    env = {**os.environ, "API_CREDENTIAL_RATE": "1000000/min", "LOG_LEVEL": "WARNING"}
    connection.close()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "prevention.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning",
         "--timeout", "300"],
        cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]},
    )
    try:
        _wait_for(port, server)
        http_items = _items(pseudonyms, values, f"http-{run}", day)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json",
                   "Accept": "application/json"}
        started = time.perf_counter()
        for offset in range(0, values, batch):
            body = json.dumps({"all_or_nothing": True,
                               "items": http_items[offset:offset + batch]})
            conn.request("POST", "/api/v1/measurements/", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                raise RuntimeError(f"upload failed: HTTP {response.status} {payload[:300]!r}")
        http_seconds = time.perf_counter() - started
        conn.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        api_credential_revoke(credential=credential)

    deleted, _detail = Measurement.objects.filter(
        source_reference__startswith="bench-", reporter=reporter.reference).delete()
    figures = {
        "values": values, "batch": batch,
        "service_seconds": service_seconds, "service_rate": values / service_seconds,
        "http_seconds": http_seconds, "http_rate": values / http_seconds,
        "ratio_http_to_service": (values / http_seconds) / (values / service_seconds),
        "cleaned_up": deleted,
    }
    out(f"API bulk upload ({values} values in batches of {batch}, provider {provider.pk}):")
    out(f"  intake service alone: {figures['service_rate']:,.0f} values/s "
        f"({service_seconds:.2f} s)")
    out(f"  HTTP, gunicorn on loopback: {figures['http_rate']:,.0f} values/s "
        f"({http_seconds:.2f} s)")
    out(f"  ratio HTTP / service: {figures['ratio_http_to_service']:.2f}")
    return figures
