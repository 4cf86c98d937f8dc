"""Settlement at programme and national scale (PostgreSQL).

Measures, for the generated programme: a full evaluation and settlement
through the database path (``settlement_compute``: one INSERT … SELECT plus the
provider aggregation), the process's peak memory, the export of the auditor's
file and ``settlement_recompute`` on it (a separate process, as an auditor
would run it). ``scale_programme`` then copies the generated prepatients with
their listings, events, outcome values and baselines in SQL (new programme IDs,
no personal data) to reach national scale, and the same figures are taken again.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
COPY_OFFSET = 10_000_000  # id offset per copy; far above any generated id
AFTER_THE_SIMULATION = datetime(2030, 1, 1, tzinfo=ZoneInfo("Europe/Stockholm"))

COPY_SQL = [
    # Prepatients: new ids and programme IDs (13 hex digits of the new id: unique, and
    # never equal to a generated ID, which has 10); no account, no personnummer.
    """
    INSERT INTO registry_prepatient
        (id, created_at, updated_at, programme_id, programme_version_id, user_id, pseudonym,
         personnummer,
         personnummer_hash, birth_date, sex, postcode, in_vulnerable_area, state,
         consent_valid, research_consent, enrolled_on, end_date, baseline_sample_id,
         current_provider_id)
    SELECT id + %(offset)s, created_at, updated_at, programme_id, programme_version_id, NULL,
           'pp-' || lpad(to_hex(id + %(offset)s), 13, '0'), NULL, NULL,
           birth_date, sex, postcode, in_vulnerable_area, state, consent_valid,
           research_consent, enrolled_on, end_date, NULL, current_provider_id
    FROM registry_prepatient
    WHERE programme_id = %(programme)s AND enrolled_on IS NOT NULL AND id < %(first)s
    """,
    """
    INSERT INTO registry_listing (prepatient_id, provider_id, valid_from, reason, created_at,
                                  actor_id)
    SELECT l.prepatient_id + %(offset)s, l.provider_id, l.valid_from, l.reason, l.created_at,
           NULL
    FROM registry_listing l JOIN registry_prepatient p ON p.id = l.prepatient_id
    WHERE p.programme_id = %(programme)s AND p.id < %(first)s
    """,
    """
    INSERT INTO registry_lifecycleevent (prepatient_id, type, "on", reason, note, actor_id,
                                         created_at)
    SELECT e.prepatient_id + %(offset)s, e.type, e."on", e.reason, '', NULL, e.created_at
    FROM registry_lifecycleevent e JOIN registry_prepatient p ON p.id = e.prepatient_id
    WHERE p.programme_id = %(programme)s AND p.id < %(first)s
    """,
    """
    INSERT INTO measurements_followupdue (prepatient_id, index, due_on, window_start,
                                          window_end, completed_at)
    SELECT f.prepatient_id + %(offset)s, f.index, f.due_on, f.window_start, f.window_end,
           f.completed_at
    FROM measurements_followupdue f JOIN registry_prepatient p ON p.id = f.prepatient_id
    WHERE p.programme_id = %(programme)s AND p.id < %(first)s AND f.index = 0
    """,
    """
    INSERT INTO measurements_measurement
        (prepatient_id, type_id, value, reported_value, reported_unit, taken_on, received_at,
         reporter_kind, reporter, provider_id, source_reference, supersedes_id, note)
    SELECT m.prepatient_id + %(offset)s, m.type_id, m.value, m.reported_value,
           m.reported_unit, m.taken_on, m.received_at, m.reporter_kind, m.reporter,
           m.provider_id, '', NULL, ''
    FROM measurements_measurement m JOIN registry_prepatient p ON p.id = m.prepatient_id
    WHERE p.programme_id = %(programme)s AND p.id < %(first)s AND m.type_id = %(outcome)s
      AND NOT EXISTS (SELECT 1 FROM measurements_measurement c WHERE c.supersedes_id = m.id)
    """,
]


def scale_programme(programme: Any, target: int, out: Callable[[str], None] = print) -> int:
    """Copies the enrolled prepatients until the programme has about ``target``."""
    from django.db import connection, transaction

    from apps.measurements.models import MeasurementType
    from apps.registry.models import Prepatient

    enrolled = Prepatient.objects.filter(programme=programme, enrolled_on__isnull=False)
    base = enrolled.count()
    copies = max(0, -(-target // base) - 1) if base else 0
    outcome = MeasurementType.objects.get(code=programme.outcome_measure).pk
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for copy in range(1, copies + 1):
            params = {"offset": copy * COPY_OFFSET, "programme": programme.pk,
                      "first": COPY_OFFSET, "outcome": outcome}
            for statement in COPY_SQL:
                cursor.execute(statement, params)
        cursor.execute("SELECT setval(pg_get_serial_sequence('registry_prepatient', 'id'), "
                       "(SELECT max(id) FROM registry_prepatient))")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    total = enrolled.count()
    out(f"Scaled the programme from {base:,} to {total:,} prepatients by copying "
        f"({time.perf_counter() - started:.1f} s)")
    return total


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_settlement_case(programme: Any, as_of: date,
                        out: Callable[[str], None] = print) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from apps.programs.selectors import programme_version_current
    from apps.registry.models import Prepatient
    from apps.settlements.export import write_input
    from apps.settlements.models import PrepatientLine, RunKind, SettlementRun
    from apps.settlements.rules import run_version
    from apps.settlements.services import settlement_compute

    user, _created = get_user_model().objects.get_or_create(username="benchmark")
    prepatients = Prepatient.objects.filter(programme=programme,
                                            enrolled_on__isnull=False).count()
    # Created directly (not through settlement_prepare, which would queue the
    # computation) so that the one computation timed below is the only one. The
    # generator's clock ran years ahead of today: the run is prepared after all of it.
    run = SettlementRun.objects.create(programme=programme, as_of=as_of,
                                       programme_version=programme_version_current(programme),
                                       kind=RunKind.PROVISIONAL, prepared_by=user,
                                       prepared_at=AFTER_THE_SIMULATION)
    tracemalloc.start()
    started = time.perf_counter()
    run = settlement_compute(run_id=run.pk)
    compute_seconds = time.perf_counter() - started
    _current, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    lines = PrepatientLine.objects.filter(run=run).count()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.json"
        # Streamed as the command and the admin do (no tracemalloc here: it would
        # slow every allocation several times; the process's peak RSS is reported).
        rss_before = _peak_rss_mb()
        started = time.perf_counter()
        with path.open("w", encoding="utf-8") as handle:
            write_input(run_version(run), as_of, run.data_cutoff, handle)
        export_seconds = time.perf_counter() - started
        rss_growth = _peak_rss_mb() - rss_before
        size_mb = path.stat().st_size / 1e6
        started = time.perf_counter()
        subprocess.run([sys.executable, "manage.py", "settlement_recompute", str(path),
                        "--out", str(Path(folder) / "result.json")], cwd=ROOT, check=True)
        recompute_seconds = time.perf_counter() - started
        result = json.loads((Path(folder) / "result.json").read_text())
    agrees = result["total_amount"] == f"{run.total_amount:.2f}"
    figures = {
        "prepatients": prepatients, "lines": lines, "compute_seconds": compute_seconds,
        "python_peak_mb": python_peak / 1e6, "process_peak_rss_mb": _peak_rss_mb(),
        "export_seconds": export_seconds, "file_mb": size_mb,
        "export_peak_rss_growth_mb": rss_growth,
        "recompute_seconds": recompute_seconds, "total_amount": str(run.total_amount),
        "recompute_agrees": agrees,
    }
    out(f"Settlement of {prepatients:,} prepatients as of {as_of} (method {run.method}):")
    out(f"  evaluation + settlement in the database: {compute_seconds:.2f} s "
        f"({lines:,} lines; Python peak {figures['python_peak_mb']:.1f} MB, "
        f"process peak RSS {figures['process_peak_rss_mb']:.0f} MB)")
    out(f"  export of the auditor's file (streamed): {export_seconds:.2f} s ({size_mb:.1f} MB; "
        f"peak RSS grew by {rss_growth:.0f} MB)")
    out(f"  settlement_recompute on the file: {recompute_seconds:.2f} s; "
        f"total {result['total_amount']} SEK; agrees with the database: {agrees}")
    return figures
