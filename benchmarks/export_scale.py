"""The auditor's export at programme and national scale, against the database's limit.

For each generated programme (30,000 and 300,000 prepatients by default) this
times **the platform's export** of its settlement input — ``write_input`` for
the programme's version as of ``AS_OF`` with the data cutoff ``PREPARED`` (what a
run prepared then exports), written to a file as ``manage.py settlement_export
--out`` does — against **the limit**: a plain ``COPY (SELECT …) TO STDOUT`` of
the rows the file contains (the settled prepatients, their listings, events,
current values of the measures the rules name and baselines: the same row sets,
no JSON, no order, no aggregation) under the export's own settings (no JIT, its
``work_mem`` and ``random_page_cost``) in one snapshot, written to a file too. Both run three times
in turn; the medians are compared. The peak memory of each is the process's
high-water mark (``VmHWM``) reset before it (``/proc/self/clear_refs``).

The engine's writer (the SQLite path, ``engine_input_lines``, which the export
used before) writes the same file once per size: its time is printed for
comparison and its bytes are checked against the database's (``same bytes``).
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.settlement_scale import AS_OF, PREPARED, Generated

RUNS = 3
RATIO_TARGET = 3.0  # at 300,000
GROWTH_TARGET = 10.5  # from N to 10 N

# The limit: the rows of the file, read as plainly as the database can write them.
LIMIT_STATEMENTS = {
    "prepatients": """
        SELECT p.id, p.pseudonym, p.enrolled_on FROM registry_prepatient p
        WHERE p.programme_version_id = %(version)s AND p.enrolled_on <= %(as_of)s
          AND EXISTS (SELECT FROM registry_listing l
                      WHERE l.prepatient_id = p.id AND l.created_at <= %(cutoff)s)""",
    "listings": """
        SELECT l.prepatient_id, l.provider_id, l.valid_from
        FROM registry_listing l JOIN registry_prepatient p ON p.id = l.prepatient_id
        WHERE p.programme_version_id = %(version)s AND p.enrolled_on <= %(as_of)s
          AND l.valid_from <= %(as_of)s AND l.created_at <= %(cutoff)s""",
    "events": """
        SELECT e.prepatient_id, e.type, e."on", e.reason
        FROM registry_lifecycleevent e JOIN registry_prepatient p ON p.id = e.prepatient_id
        WHERE p.programme_version_id = %(version)s AND p.enrolled_on <= %(as_of)s
          AND e.type IN ('dropped_out', 'consent_withdrawn', 'excluded', 'reinstated',
                         'deceased')
          AND e."on" <= %(as_of)s AND e.created_at <= %(cutoff)s""",
    "values": """
        SELECT m.prepatient_id, m.id, m.type_id, m.reported_value, m.reported_unit,
               m.taken_on, m.reporter_kind
        FROM measurements_measurement m JOIN registry_prepatient p ON p.id = m.prepatient_id
        WHERE p.programme_version_id = %(version)s AND p.enrolled_on <= %(as_of)s
          AND m.type_id = ANY(%(types)s) AND m.taken_on <= %(as_of)s
          AND m.received_at <= %(cutoff)s
          AND NOT EXISTS (SELECT FROM measurements_measurement c
                          WHERE c.supersedes_id = m.id AND c.received_at <= %(cutoff)s)""",
    "baselines": """
        SELECT f.prepatient_id, f.window_start, f.window_end
        FROM measurements_followupdue f JOIN registry_prepatient p ON p.id = f.prepatient_id
        WHERE p.programme_version_id = %(version)s AND p.enrolled_on <= %(as_of)s
          AND f.index = 0 AND f.completed_at <= %(cutoff)s""",
}


@dataclass
class Timing:
    runs: list[float] = field(default_factory=list)
    peak_mb: float = 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


@dataclass
class SizeResult:
    prepatients: int
    export: Timing
    limit: Timing
    export_mb: float
    limit_mb: float
    engine_seconds: float
    engine_peak_mb: float
    same_bytes: bool


def _peak_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def _measured(timing: Timing) -> Iterator[None]:
    """Times the block and keeps the process's peak memory during it (the high-water
    mark is reset first where the kernel allows it)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass  # then the peak is the process's whole high-water mark
    started = time.perf_counter()
    yield
    timing.runs.append(time.perf_counter() - started)
    timing.peak_mb = max(timing.peak_mb, _peak_mb())


def _export(version: Any, path: Path, timing: Timing) -> None:
    from apps.settlements.export import write_input

    with _measured(timing), path.open("w", encoding="utf-8") as handle:
        write_input(version, AS_OF, PREPARED, handle)


def _limit(version: Any, types: list[int], path: Path, timing: Timing) -> None:
    from django.db import connection, transaction

    from apps.settlements.export_sql import SETTINGS

    params = {"version": version.pk, "as_of": AS_OF, "cutoff": PREPARED, "types": types}
    with _measured(timing), transaction.atomic(), connection.cursor() as cursor, \
            path.open("wb") as handle:
        raw = cursor.cursor  # psycopg 3
        raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for name, value in SETTINGS.items():  # the export's own (no JIT, work_mem, …)
            raw.execute("SELECT set_config(%s, %s, true)", [name, value])
        for statement in LIMIT_STATEMENTS.values():
            with raw.copy(f"COPY ({statement}) TO STDOUT", params) as copy:
                for data in copy:
                    handle.write(data)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_size(generated: Generated, *, out: Callable[[str], None] = print) -> SizeResult:
    from apps.measurements.models import MeasurementType
    from apps.programs.selectors import programme_version_current
    from apps.settlements.export import engine_input_lines
    from apps.settlements.rules import settlement_rules

    version = programme_version_current(generated.programme)
    assert version is not None, "the generated programme has a published version"
    types = list(MeasurementType.objects.filter(code__in=settlement_rules(version).measures)
                 .values_list("id", flat=True))
    export, limit = Timing(), Timing()
    with tempfile.TemporaryDirectory() as folder:
        exported, limited = Path(folder) / "input.json", Path(folder) / "rows.copy"
        for _ in range(RUNS):  # in turn, so that both see the same machine
            _export(version, exported, export)
            _limit(version, types, limited, limit)
            out(f"  export {export.runs[-1]:.2f} s, limit {limit.runs[-1]:.2f} s")
        export_mb, limit_mb = exported.stat().st_size / 1e6, limited.stat().st_size / 1e6
        written = _sha256(exported)
        engine = Timing()
        with _measured(engine), exported.open("w", encoding="utf-8") as handle:
            for piece in engine_input_lines(version, AS_OF, PREPARED):
                handle.write(piece)
        out(f"  engine writer {engine.median:.2f} s")
        same = _sha256(exported) == written
    return SizeResult(prepatients=generated.prepatients, export=export, limit=limit,
                      export_mb=export_mb, limit_mb=limit_mb, engine_seconds=engine.median,
                      engine_peak_mb=engine.peak_mb, same_bytes=same)


def run_scenario(programmes: list[Generated], *, out: Callable[[str], None] = print) -> str:
    """The export scenario over every generated size: its report."""
    results = []
    for generated in programmes:
        out(f"Export of {generated.prepatients:,} prepatients")
        results.append(run_size(generated, out=out))
    return report(results)


def _met(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


def _runs(timing: Timing) -> str:
    return ", ".join(f"{seconds:.2f}" for seconds in timing.runs)


def report(results: list[SizeResult]) -> str:
    lines = [f"The auditor's export against its limit (median of {RUNS} runs each, taken in "
             f"turn; target ratio ≤ {RATIO_TARGET:g} at 300,000, growth ≤ {GROWTH_TARGET:g}× "
             "from N to 10 N)"]
    for r in results:
        ratio = r.export.median / r.limit.median
        lines += [
            f"{r.prepatients:,} prepatients",
            f"  export: write_input, lines built by PostgreSQL ({r.export_mb:,.1f} MB)   "
            f"{r.export.median:8.2f} s   runs {_runs(r.export)}   peak RSS "
            f"{r.export.peak_mb:,.0f} MB",
            f"  limit: COPY of the same rows, no JSON ({r.limit_mb:,.1f} MB)          "
            f"{r.limit.median:8.2f} s   runs {_runs(r.limit)}   peak RSS "
            f"{r.limit.peak_mb:,.0f} MB",
            f"  ratio export / limit                                       {ratio:8.2f}    "
            + (f"target ≤ {RATIO_TARGET:g}: {_met(ratio, RATIO_TARGET)}"
               if r.prepatients >= 300_000 else f"(target ≤ {RATIO_TARGET:g} at 300,000)"),
            f"  (the engine's writer, the SQLite path, once: {r.engine_seconds:.2f} s, peak RSS "
            f"{r.engine_peak_mb:,.0f} MB; same bytes: {r.same_bytes})",
        ]
    if len(results) > 1:
        small, large = results[0], results[-1]
        size = large.prepatients / small.prepatients
        growth = large.export.median / small.export.median
        lines.append(
            f"Growth from {small.prepatients:,} to {large.prepatients:,} ({size:.0f}×): export "
            f"{growth:.1f}× (target ≤ {GROWTH_TARGET * size / 10:g}×: "
            f"{_met(growth, GROWTH_TARGET * size / 10)}), limit "
            f"{large.limit.median / small.limit.median:.1f}×, engine writer "
            f"{large.engine_seconds / small.engine_seconds:.1f}×; peak RSS export "
            f"{large.export.peak_mb / small.export.peak_mb:.1f}×")
    return "\n".join(lines)
