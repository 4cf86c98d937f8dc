"""Settlement at programme and national scale, against the limits of the same machine.

``make bench`` runs this (see ``benchmarks/README.md``). For each size (30,000
and 300,000 prepatients by default) it:

1. **Generates** a synthetic programme straight into the platform's tables with
   ``COPY`` (no personal data): enrollments over a year with 75 providers,
   switches (a few of them late, after a provider lost its authorization),
   dropping out, withdrawals, exclusions (half of them reinstated), deaths,
   baseline sets, and 24 months of quarterly follow-up sets of every measure the
   programme asks for (HbA1c, lipids, cholesterol, weight, BMI, FINDRISC) —
   about 70 values per person, a few HbA1c values in % and a few corrections.
2. Loads the same data a hand-written settlement needs into a **minimal schema**
   (four narrow tables, only the current HbA1c values) with ``COPY``.
3. Times **the platform's settlement** (``settlement_compute``: the SQL generated
   from the programme's rules, its lines with their evidence, the provider lines)
   against **one hand-written SQL statement** over the minimal schema that
   writes the same lines and returns the provider counts: the limit. Both are
   run three times in turn; the medians are compared, and the two results are
   checked line by line.
4. Exports the auditor's file of the run and times **the engine's recompute** of
   it (``python -m prevention_engine recompute``, a fresh process) against
   **``json.load`` of the same file** (a fresh process) — the limit — with the
   peak memory of each process.

Each figure is printed beside its limit, measured in the same run, as a ratio.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
STOCKHOLM = ZoneInfo("Europe/Stockholm")
RECORDED = datetime(2029, 6, 1, 9, 0, tzinfo=STOCKHOLM)  # every row: recorded before the run
PREPARED = datetime(2029, 6, 2, 9, 0, tzinfo=STOCKHOLM)  # the runs' data cutoff
AS_OF = date(2029, 3, 31)  # the last day payments are reported: every prepatient decided
PROVIDERS = 75
RUNS = 3
# (type code, reported unit, plausible centre, spread, decimals) of the follow-up set.
FOLLOW_UP = (("triglycerides", "mmol/L", 1.7, 0.5, 2), ("cholesterol_total", "mmol/L", 5.2, 0.8, 2),
             ("ldl", "mmol/L", 3.3, 0.6, 2), ("hdl", "mmol/L", 1.3, 0.3, 2),
             ("weight", "kg", 86.0, 12.0, 1), ("bmi", "kg/m2", 29.0, 4.0, 1),
             ("findrisc", "score", 14.0, 3.0, 0))

MINIMAL_SCHEMA = """
DROP TABLE IF EXISTS limit_lines, limit_samples, limit_events, limit_listings, limit_people;
CREATE TABLE limit_people (id bigint PRIMARY KEY, pseudonym text NOT NULL,
                           enrolled_on date NOT NULL, baseline boolean NOT NULL);
CREATE TABLE limit_listings (person bigint NOT NULL, provider bigint NOT NULL,
                             valid_from date NOT NULL, seq bigint NOT NULL);
CREATE TABLE limit_events (person bigint NOT NULL, type text NOT NULL, "on" date NOT NULL,
                           reason text NOT NULL, seq bigint NOT NULL);
CREATE TABLE limit_samples (person bigint NOT NULL, id bigint NOT NULL, taken_on date NOT NULL,
                            value numeric NOT NULL, unit text NOT NULL, source text NOT NULL);
"""

# The limit: the prediabetes rules written by hand for these four tables (HbA1c closest
# to the end within ±30 days below 42 mmol/mol, 48 or more at any time disqualifies, a %
# value converted and rounded half-even), writing the same lines with their evidence and
# returning each provider's counts, in one statement.
LIMIT_SQL = """
WITH p AS (
    SELECT id, pseudonym, enrolled_on, baseline,
           (enrolled_on + interval '24 months')::date AS end_date
    FROM limit_people
),
ev AS (
    SELECT e.* FROM limit_events e JOIN p ON p.id = e.person WHERE e."on" <= p.end_date
),
excl AS (
    SELECT person, type, "on", reason, seq,
           lead(type) OVER (PARTITION BY person ORDER BY "on", seq) AS next_type
    FROM ev WHERE type IN ('excluded', 'reinstated')
),
terminal AS (
    SELECT DISTINCT ON (person) person, type, "on", reason FROM (
        SELECT person, type, "on", reason, seq FROM ev
        WHERE type IN ('dropped_out', 'consent_withdrawn')
        UNION ALL
        SELECT person, type, "on", reason, seq FROM excl
        WHERE type = 'excluded' AND next_type IS DISTINCT FROM 'reinstated'
    ) t ORDER BY person, "on", seq
),
dead AS (SELECT person, min("on") AS "on" FROM ev WHERE type = 'deceased' GROUP BY person),
s AS (
    SELECT s.person, s.id, s.taken_on, s.value, s.unit, s.source, p.end_date, p.enrolled_on,
           CASE WHEN s.unit = '%%' THEN settlement_round4((s.value - 2.15) * 10.929)
                ELSE s.value END AS mmol
    FROM limit_samples s JOIN p ON p.id = s.person WHERE s.source = 'lab'
),
closest AS (
    SELECT DISTINCT ON (person) person, id, taken_on, value, unit, mmol
    FROM s WHERE taken_on BETWEEN end_date - 30 AND end_date + 30
    ORDER BY person, abs(taken_on - end_date), taken_on DESC, id DESC
),
diabetes AS (
    SELECT DISTINCT ON (person) person, id, taken_on, value, unit, mmol
    FROM s WHERE taken_on BETWEEN enrolled_on AND end_date + 30 AND mmol >= 48
    ORDER BY person, taken_on, id
),
judged AS (
    SELECT p.id, p.pseudonym, p.end_date,
        CASE WHEN dead.person IS NOT NULL OR NOT p.baseline THEN NULL
             WHEN terminal.person IS NOT NULL THEN terminal."on"
             WHEN %(as_of)s < p.end_date + 30 THEN %(as_of)s
             ELSE p.end_date END AS attributed_on,
        CASE WHEN dead.person IS NOT NULL OR NOT p.baseline THEN 'excluded'
             WHEN terminal.person IS NOT NULL THEN 'failure'
             WHEN %(as_of)s < p.end_date + 30 THEN 'pending'
             WHEN diabetes.person IS NOT NULL THEN 'failure'
             WHEN closest.person IS NULL OR closest.mmol >= 42 THEN 'failure'
             ELSE 'success' END AS result,
        CASE WHEN dead.person IS NOT NULL THEN 'deceased'
             WHEN NOT p.baseline THEN 'no_baseline'
             WHEN terminal.type = 'excluded' THEN 'excluded:' || terminal.reason
             WHEN terminal.person IS NOT NULL THEN terminal.type
             WHEN %(as_of)s < p.end_date + 30 THEN 'not_yet_due'
             WHEN diabetes.person IS NOT NULL THEN 'disqualified:developed_diabetes'
             WHEN closest.person IS NULL THEN 'no_outcome_sample:hba1c'
             WHEN closest.mmol >= 42 THEN 'target_not_met:hba1c'
             ELSE 'target_met' END AS reason,
        CASE WHEN dead.person IS NOT NULL THEN dead."on" WHEN NOT p.baseline THEN NULL
             ELSE terminal."on" END AS decided_on,
        CASE WHEN dead.person IS NOT NULL OR NOT p.baseline OR terminal.person IS NOT NULL
                  OR %(as_of)s < p.end_date + 30 THEN '[]'::jsonb
             WHEN diabetes.person IS NOT NULL THEN jsonb_build_array(jsonb_build_object(
                 'rule', 'disqualifier', 'measure', 'hba1c', 'unit', 'mmol/mol', 'op', 'ge',
                 'threshold', '48', 'reason', 'developed_diabetes', 'baseline', NULL,
                 'met', TRUE, 'quantity', CASE WHEN diabetes.unit = 'mmol/mol'
                     THEN trim_scale(diabetes.value)::text ELSE diabetes.mmol::text END,
                 'samples', jsonb_build_array(jsonb_build_object(
                     'taken_on', to_char(diabetes.taken_on, 'YYYY-MM-DD'),
                     'value', trim_scale(diabetes.value)::text, 'unit', diabetes.unit,
                     'measurement', diabetes.id))))
             ELSE jsonb_build_array(jsonb_build_object(
                 'rule', 'criterion', 'measure', 'hba1c', 'unit', 'mmol/mol', 'op', 'lt',
                 'threshold', '42', 'aggregate', 'closest', 'compare', 'value',
                 'baseline', NULL, 'met', COALESCE(closest.mmol < 42, FALSE),
                 'quantity', CASE WHEN closest.unit = 'mmol/mol'
                     THEN trim_scale(closest.value)::text ELSE closest.mmol::text END,
                 'samples', CASE WHEN closest.person IS NULL THEN '[]'::jsonb
                     ELSE jsonb_build_array(jsonb_build_object(
                         'taken_on', to_char(closest.taken_on, 'YYYY-MM-DD'),
                         'value', trim_scale(closest.value)::text, 'unit', closest.unit,
                         'measurement', closest.id)) END))
        END AS evidence
    FROM p
    LEFT JOIN dead ON dead.person = p.id
    LEFT JOIN terminal ON terminal.person = p.id
    LEFT JOIN closest ON closest.person = p.id
    LEFT JOIN diabetes ON diabetes.person = p.id
),
attributed AS (
    SELECT DISTINCT ON (j.id) j.*, l.provider
    FROM judged j LEFT JOIN limit_listings l
      ON l.person = j.id AND l.valid_from <= j.attributed_on
    ORDER BY j.id, l.valid_from DESC, l.seq DESC
),
written AS (
    INSERT INTO limit_lines
    SELECT id, pseudonym, provider, result, reason, end_date, decided_on, evidence
    FROM attributed RETURNING provider, result
)
SELECT provider, count(*) FILTER (WHERE result = 'success'),
       count(*) FILTER (WHERE result = 'failure'), count(*) FILTER (WHERE result = 'pending')
FROM written WHERE provider IS NOT NULL GROUP BY provider
"""


@dataclass
class Generated:
    programme: Any
    prepatients: int
    values: int
    seconds: float


@dataclass
class Timing:
    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


@dataclass
class SizeResult:
    prepatients: int
    values: int
    platform: Timing
    limit: Timing
    agrees: bool
    recompute: Timing
    parse: Timing
    parse_no_gc: Timing
    recompute_rss_mb: float
    parse_rss_mb: float
    file_mb: float
    recompute_total: str
    run_total: str


def _copy(cursor: Any, table: str, columns: str, rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


class _Ids:
    """Ids taken from a table's sequence in one call, then handed out in order."""

    def __init__(self, cursor: Any, table: str, count: int) -> None:
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                       "FROM generate_series(1, %s)", [count])
        self._ids = iter(row[0] for row in cursor.fetchall())

    def __next__(self) -> int:
        return next(self._ids)


def generate(*, code: str, prepatients: int, seed: int,
             out: Callable[[str], None] = print) -> Generated:
    """A synthetic programme of ``prepatients`` written with COPY (see the module)."""
    from django.db import connection

    from apps.measurements.models import MeasurementType
    from apps.programs.models import Programme
    from apps.providers.models import (
        AuthorizationDecision,
        AuthorizationStatus,
        DecisionKind,
        Provider,
    )
    from apps.providers.services import programme_offer
    from prevention_engine.dates import add_months

    started = time.perf_counter()
    rnd = random.Random(seed)
    base = Programme.objects.get(code="prediabetes-2026")
    programme, _created = Programme.objects.update_or_create(
        code=code, defaults={"name": f"Benchmark {prepatients:,}", "cap": prepatients,
                             "outcome_criteria": base.outcome_criteria,
                             "outcome_disqualifiers": base.outcome_disqualifiers})
    types = {kind.code: kind.pk for kind in MeasurementType.objects.all()}
    from django.contrib.auth import get_user_model

    actor, _ = get_user_model().objects.get_or_create(username="benchmark")
    version = _defined(programme, base, actor, cap=prepatients)
    providers = []
    for index in range(PROVIDERS):
        provider, _ = Provider.objects.get_or_create(
            organisation_number=_organisation_number(index),
            defaults={"name": f"Benchmark provider {index + 1}",
                      "authorization_status": AuthorizationStatus.AUTHORIZED})
        programme_offer(provider=provider, programme=programme)
        providers.append(provider.pk)
    lost = {providers[0]: date(2027, 9, 1), providers[1]: date(2027, 10, 15)}
    for provider_id, day in lost.items():
        if not AuthorizationDecision.objects.filter(provider_id=provider_id).exists():
            AuthorizationDecision.objects.create(
                provider_id=provider_id, decision=DecisionKind.SUSPEND,
                from_status=AuthorizationStatus.AUTHORIZED,
                to_status=AuthorizationStatus.SUSPENDED, reason="benchmark", actor=actor,
                at=datetime.combine(day, datetime.min.time(), STOCKHOLM))

    people: list[dict[str, Any]] = []
    for _ in range(prepatients):
        enrolled = date(2026, 1, 1) + timedelta(days=rnd.randrange(365))
        people.append(_person(rnd, enrolled, providers, lost, add_months))
    values = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        ids = _Ids(raw, "registry_prepatient", prepatients)
        for person in people:
            person["id"] = next(ids)
        _copy(raw, "registry_prepatient",
              "id, created_at, updated_at, pseudonym, sex, postcode, in_vulnerable_area, state, "
              "consent_valid, research_consent, enrolled_on, end_date, current_provider_id, "
              "programme_id, programme_version_id",
              ((p["id"], RECORDED, RECORDED, f"pp-{p['id']:010x}", "F", "16355", True,
                p["state"], p["state"] not in ("consent_withdrawn",), False, p["enrolled"],
                p["end"], p["listings"][-1][0], programme.pk, version.pk) for p in people))
        _copy(raw, "registry_listing", "valid_from, reason, created_at, provider_id, prepatient_id",
              ((day, reason, RECORDED, provider, p["id"]) for p in people
               for provider, day, reason in p["listings"]))
        _copy(raw, "registry_lifecycleevent", 'type, "on", reason, note, created_at, prepatient_id',
              ((kind, day, reason, "", RECORDED, p["id"]) for p in people
               for kind, day, reason in p["events"]))
        _copy(raw, "measurements_followupdue",
              "index, due_on, window_start, window_end, completed_at, prepatient_id",
              ((index, due, start, end, RECORDED if index > 0 or p["baseline"] else None, p["id"])
               for p in people for index, due, start, end in _schedule(p["enrolled"], add_months)))
        measurement_ids = _Ids(raw, "measurements_measurement", sum(
            len(p["values"]) for p in people))
        corrections: list[tuple[Any, ...]] = []

        def rows() -> Iterator[tuple[Any, ...]]:
            for p in people:
                for code_, value, unit, taken_on, kind, corrected in p["values"]:
                    pk = next(measurement_ids)
                    if corrected is not None:
                        corrections.append((pk, p, code_, corrected, unit, taken_on, kind))
                    yield (pk, value, value, unit, taken_on, RECORDED, kind, kind, "", "",
                           p["id"], None, None, types[code_])

        values = _copy(raw, "measurements_measurement",
                       "id, value, reported_value, reported_unit, taken_on, received_at, "
                       "reporter_kind, reporter, source_reference, note, prepatient_id, "
                       "provider_id, supersedes_id, type_id", rows())
        values += _copy(raw, "measurements_measurement",
                        "value, reported_value, reported_unit, taken_on, received_at, "
                        "reporter_kind, reporter, source_reference, note, prepatient_id, "
                        "supersedes_id, type_id",
                        ((new, new, unit, taken_on, RECORDED, kind, kind, "", "correction",
                          p["id"], pk, types[code_])
                         for pk, p, code_, new, unit, taken_on, kind in corrections))
        raw.execute("ANALYZE")
    seconds = time.perf_counter() - started
    out(f"  generated {prepatients:,} prepatients with {values:,} values by COPY "
        f"({seconds:.1f} s)")
    return Generated(programme, prepatients, values, seconds)


def _defined(programme: Any, base: Any, author: Any, *, cap: int) -> Any:
    """The benchmark programme's published version: the first programme's definition
    under the benchmark's code and cap, drafted and published by two accounts."""
    from django.contrib.auth import get_user_model

    from apps.programs.selectors import programme_version_current
    from apps.programs.services import programme_version_draft, programme_version_publish

    current = programme_version_current(programme)
    if current is not None:
        return current
    shipped = programme_version_current(base)
    assert shipped is not None, "the first programme ships with its version 1"
    definition = {**shipped.definition, "code": programme.code, "cap": cap}
    reviewer, _ = get_user_model().objects.get_or_create(username="benchmark-reviewer")
    draft = programme_version_draft(programme=programme, definition=definition, author=author)
    return programme_version_publish(version=draft, publisher=reviewer)


def _organisation_number(index: int) -> str:
    from apps.core.luhn import luhn_check_digit

    stem = f"559{index:06d}"
    return stem + str(luhn_check_digit(stem))


def _schedule(enrolled: date, add_months: Any) -> list[tuple[int, date, date, date]]:
    baseline_due = enrolled + timedelta(days=30)
    rows = [(0, baseline_due, enrolled, baseline_due)]
    previous = baseline_due
    for k in range(1, 9):
        due = add_months(enrolled, 3 * k)
        rows.append((k, due, min(previous + timedelta(days=1), due), due))
        previous = due
    return rows


def _person(rnd: random.Random, enrolled: date, providers: list[int], lost: dict[int, date],
            add_months: Any) -> dict[str, Any]:
    end = add_months(enrolled, 24)
    first = rnd.choice(providers)
    listings = [(first, enrolled, "initial")]
    if rnd.random() < 0.08:  # a switch within the first 18 months
        day = enrolled + timedelta(days=rnd.randrange(30, 540))
        listings.append((rnd.choice([p for p in providers[2:] if p != first]), day, "switch"))
    if listings[-1][0] in lost and rnd.random() < 0.5:  # after the provider lost it
        day = max(lost[listings[-1][0]], listings[-1][1]) + timedelta(days=rnd.randrange(1, 60))
        if day < end:
            listings.append((rnd.choice(providers[2:]), day, "lost_authorization"))
    events: list[tuple[str, date, str]] = [("enrolled", enrolled, "")]
    state = "active"
    roll = rnd.random()
    if roll < 0.05:
        events.append(("dropped_out", enrolled + timedelta(days=rnd.randrange(60, 700)), ""))
        state = "dropped_out"
    elif roll < 0.06:
        events.append(("consent_withdrawn", enrolled + timedelta(days=rnd.randrange(60, 700)),
                       ""))
        state = "excluded"
    elif roll < 0.065:
        events.append(("deceased", enrolled + timedelta(days=rnd.randrange(60, 700)), ""))
        state = "deceased"
    elif roll < 0.095:
        excluded = enrolled + timedelta(days=rnd.randrange(100, 600))
        events.append(("excluded", excluded, "missed_followup"))
        state = "excluded"
        if rnd.random() < 0.5:
            events.append(("reinstated", excluded + timedelta(days=rnd.randrange(5, 60)), ""))
            state = "active"
    values: list[tuple[str, Decimal, str, date, str, Decimal | None]] = []
    hba1c = rnd.uniform(42, 47.9)
    trend = rnd.gauss(-0.5, 0.6)
    percent = rnd.random() < 0.02
    for quarter in range(9):
        taken_on = add_months(enrolled, 3 * quarter) + timedelta(days=rnd.randrange(-6, 7))
        if quarter == 0:
            taken_on = enrolled + timedelta(days=rnd.randrange(0, 20))
        level = hba1c + trend * quarter + rnd.gauss(0, 1.2)
        if percent:
            value = Decimal(f"{level / 10.929 + 2.15:.2f}")
            unit = "%"
        else:
            value = Decimal(f"{level:.1f}")
            unit = "mmol/mol"
        corrected = Decimal(f"{level + 0.3:.1f}") if unit != "%" and rnd.random() < 0.005 else None
        values.append(("hba1c", value, unit, taken_on, "lab", corrected))
        for code, unit_, centre, spread, places in FOLLOW_UP:
            if code == "findrisc" and quarter % 4:
                continue
            number = Decimal(str(round(max(0.1, rnd.gauss(centre, spread)), places)))
            values.append((code, number, unit_, taken_on, "provider", None))
    return {"enrolled": enrolled, "end": end, "listings": listings, "events": events,
            "state": state, "values": values, "baseline": rnd.random() > 0.03}


def load_minimal(programme: Any) -> float:
    """The limit's four tables, written with COPY from the same rows the platform holds."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(MINIMAL_SCHEMA)
        for table, query in (
            ("limit_people", """
                SELECT p.id, p.pseudonym, p.enrolled_on, f.completed_at IS NOT NULL
                FROM registry_prepatient p
                JOIN measurements_followupdue f ON f.prepatient_id = p.id AND f.index = 0
                WHERE p.programme_id = %(programme)s"""),
            ("limit_listings", """
                SELECT l.prepatient_id, l.provider_id, l.valid_from, l.id FROM registry_listing l
                JOIN registry_prepatient p ON p.id = l.prepatient_id
                WHERE p.programme_id = %(programme)s"""),
            ("limit_events", """
                SELECT e.prepatient_id, e.type, e."on", e.reason, e.id
                FROM registry_lifecycleevent e
                JOIN registry_prepatient p ON p.id = e.prepatient_id
                WHERE p.programme_id = %(programme)s AND e.type IN ('dropped_out',
                      'consent_withdrawn', 'excluded', 'reinstated', 'deceased')"""),
            ("limit_samples", """
                SELECT m.prepatient_id, m.id, m.taken_on, m.reported_value, m.reported_unit,
                       CASE m.reporter_kind WHEN 'lab' THEN 'lab' ELSE 'other' END
                FROM measurements_measurement m
                JOIN registry_prepatient p ON p.id = m.prepatient_id
                JOIN measurements_measurementtype t ON t.id = m.type_id AND t.code = 'hba1c'
                WHERE p.programme_id = %(programme)s AND NOT EXISTS (
                    SELECT 1 FROM measurements_measurement c WHERE c.supersedes_id = m.id)"""),
        ):
            # Out with COPY TO, in with COPY FROM: the limit's data as a loader writes it.
            buffer = bytearray()
            statement = query.replace("%(programme)s", str(int(programme.pk)))
            with raw.copy(f"COPY ({statement}) TO STDOUT") as copy:
                for chunk in copy:
                    buffer += chunk
            with raw.copy(f"COPY {table} FROM STDIN") as copy:
                copy.write(bytes(buffer))
        raw.execute("CREATE TABLE limit_lines (person bigint, pseudonym text, provider bigint, "
                    "result text, reason text, end_date date, decided_on date, evidence jsonb)")
        raw.execute("ANALYZE limit_people, limit_listings, limit_events, limit_samples")
    return time.perf_counter() - started


def time_limit() -> tuple[float, list[tuple[Any, ...]]]:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE limit_lines")
    started = time.perf_counter()  # to the commit, as the platform's run is timed
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(LIMIT_SQL, {"as_of": AS_OF})
        counts = cursor.fetchall()
    return time.perf_counter() - started, counts


def time_platform(programme: Any) -> Any:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from apps.programs.selectors import programme_version_current
    from apps.settlements.models import PrepatientLine, ProviderLine, RunKind, SettlementRun
    from apps.settlements.services import settlement_compute

    user, _ = get_user_model().objects.get_or_create(username="benchmark")
    earlier = SettlementRun.objects.filter(programme=programme)  # as the limit empties its table
    PrepatientLine.objects.filter(run__in=earlier).delete()
    ProviderLine.objects.filter(run__in=earlier).delete()
    earlier.delete()
    with connection.cursor() as cursor:  # what autovacuum does between runs in production
        cursor.execute("VACUUM settlements_prepatientline, settlements_providerline")
    # Created directly, not through settlement_prepare (which queues it): the computation
    # timed here is the only one.
    run = SettlementRun.objects.create(programme=programme, as_of=AS_OF, kind=RunKind.FINAL,
                                       programme_version=programme_version_current(programme),
                                       prepared_by=user, prepared_at=PREPARED)
    started = time.perf_counter()
    computed = settlement_compute(run_id=run.pk)
    return time.perf_counter() - started, computed


def lines_agree(run_id: int) -> bool:
    """Every line of the platform's run equals the limit's (result, reason, provider,
    evidence): the two compute the same thing."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT count(*)
            FROM (SELECT * FROM settlements_prepatientline WHERE run_id = %s) l
            FULL JOIN limit_lines x ON x.person = l.prepatient_id
            WHERE l.run_id IS NULL OR x.person IS NULL OR l.result <> x.result
               OR l.reason <> x.reason OR l.provider_id IS DISTINCT FROM x.provider
               OR l.decided_on IS DISTINCT FROM x.decided_on OR l.evidence <> x.evidence
        """, [run_id])
        return cursor.fetchone()[0] == 0


# Each runs in a fresh interpreter without site packages; the peak resident memory is the
# process's own high-water mark (VmHWM; ru_maxrss would carry the parent's over exec).
_PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""
_MEASURE = _PEAK + """
import json, sys, time
started = time.perf_counter()
with open(sys.argv[1], "rb") as handle:
    json.load(handle)
print(json.dumps({"seconds": time.perf_counter() - started, "rss_mb": peak_mb()}))
"""
_MEASURE_NO_GC = _MEASURE.replace("import json, sys, time",
                                  "import gc, json, sys, time\ngc.disable()")
_RECOMPUTE = _PEAK + """
import json, os, sys, time
sys.path.insert(0, sys.argv[2])
from prevention_engine.cli import run_recompute
started = time.perf_counter()
with open(os.devnull, "w") as sink:
    status = run_recompute(sys.argv[1], sys.argv[3], sink, sys.stderr)
print(json.dumps({"seconds": time.perf_counter() - started, "status": status,
                  "rss_mb": peak_mb()}))
"""


def _process(script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-S", "-c", script, *args], capture_output=True,
                          text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _generated_before(code: str, prepatients: int) -> Generated | None:
    from apps.measurements.models import Measurement
    from apps.programs.models import Programme

    programme = Programme.objects.filter(code=code).first()
    if programme is None or programme.prepatients.count() != prepatients:
        return None
    values = Measurement.objects.filter(prepatient__programme=programme).count()
    return Generated(programme, prepatients, values, 0.0)


def prepare_size(*, code: str, prepatients: int, seed: int, reuse: bool = False,
                 out: Callable[[str], None] = print) -> Generated:
    """The programme of ``prepatients`` under ``code``: generated, or with ``reuse`` the
    one generated before when it is still whole."""
    generated = _generated_before(code, prepatients) if reuse else None
    if generated is None:
        return generate(code=code, prepatients=prepatients, seed=seed, out=out)
    out(f"  reused the {prepatients:,} prepatients generated before")
    return generated


def run_scenario(programmes: list[Generated], *, out: Callable[[str], None] = print) -> str:
    """The settlement scenario over every generated size: its report."""
    results = []
    for generated in programmes:
        out(f"Settlement of {generated.prepatients:,} prepatients")
        results.append(run_size(generated, out=out))
    return report(results)


def run_size(generated: Generated, *, out: Callable[[str], None] = print) -> SizeResult:
    from django.db import connection

    from apps.settlements.export import write_input
    from apps.settlements.rules import run_version

    prepatients = generated.prepatients
    loaded = load_minimal(generated.programme)
    out(f"  minimal schema loaded with COPY ({loaded:.1f} s)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) measurements_measurement, registry_prepatient, "
                       "registry_listing, registry_lifecycleevent, measurements_followupdue")
    platform, limit = Timing(), Timing()
    run = None
    for _ in range(RUNS):  # in turn, so that both see the same machine
        seconds, run = time_platform(generated.programme)
        platform.runs.append(seconds)
        seconds, _counts = time_limit()
        limit.runs.append(seconds)
    assert run is not None
    agrees = lines_agree(run.pk)
    recompute, parse, parse_no_gc = Timing(), Timing(), Timing()
    rss: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.json"
        with path.open("w", encoding="utf-8") as handle:
            write_input(run_version(run), AS_OF, run.data_cutoff, handle)
        result_path = Path(folder) / "result.json"
        for _ in range(RUNS):
            measured = _process(_MEASURE, str(path))
            parse.runs.append(measured["seconds"])
            rss["parse"] = measured["rss_mb"]
            parse_no_gc.runs.append(_process(_MEASURE_NO_GC, str(path))["seconds"])
            measured = _process(_RECOMPUTE, str(path), str(ROOT), str(result_path))
            assert measured["status"] == 0
            recompute.runs.append(measured["seconds"])
            rss["recompute"] = measured["rss_mb"]
        total = json.loads(result_path.read_text())["total_amount"]
        file_mb = path.stat().st_size / 1e6
    return SizeResult(prepatients=prepatients, values=generated.values, platform=platform,
                      limit=limit, agrees=agrees, recompute=recompute, parse=parse,
                      parse_no_gc=parse_no_gc,
                      recompute_rss_mb=rss["recompute"], parse_rss_mb=rss["parse"],
                      file_mb=file_mb, recompute_total=total, run_total=f"{run.total_amount:.2f}")


def report(results: list[SizeResult]) -> str:
    lines = ["Settlement against its limits (median of "
             f"{RUNS} runs each, taken in turn; target ratio ≤ 1.5)"]
    for r in results:
        lines += [
            f"{r.prepatients:,} prepatients ({r.values:,} values in the database)",
            f"  platform settlement (SQL from the rules, lines, providers)  "
            f"{r.platform.median:8.2f} s   runs {_runs(r.platform)}",
            f"  limit: one hand-written statement, minimal schema (COPY)   "
            f"{r.limit.median:8.2f} s   runs {_runs(r.limit)}",
            f"  ratio platform / limit                                     "
            f"{r.platform.median / r.limit.median:8.2f}    same lines: {r.agrees}",
            f"  engine recompute of the auditor's file ({r.file_mb:,.1f} MB)  "
            f"{r.recompute.median:8.2f} s   peak RSS {r.recompute_rss_mb:,.0f} MB",
            f"  limit: json.load of the same file                          "
            f"{r.parse.median:8.2f} s   peak RSS {r.parse_rss_mb:,.0f} MB",
            f"  ratio recompute / json.load                                "
            f"{r.recompute.median / r.parse.median:8.2f}    totals agree: "
            f"{r.recompute_total == r.run_total} ({r.run_total} SEK)",
            f"  (json.load with the cycle collector off, as the engine reads: "
            f"{r.parse_no_gc.median:.2f} s; ratio {r.recompute.median / r.parse_no_gc.median:.2f})",
        ]
    if len(results) > 1:
        small, large = results[0], results[-1]
        growth = large.prepatients / small.prepatients
        lines += [f"Growth from {small.prepatients:,} to {large.prepatients:,} ({growth:.0f}×): "
                  f"platform {large.platform.median / small.platform.median:.1f}×, "
                  f"limit {large.limit.median / small.limit.median:.1f}×, "
                  f"recompute {large.recompute.median / small.recompute.median:.1f}×, json.load "
                  f"{large.parse.median / small.parse.median:.1f}×; peak RSS recompute "
                  f"{large.recompute_rss_mb / small.recompute_rss_mb:.1f}×, json.load "
                  f"{large.parse_rss_mb / small.parse_rss_mb:.1f}×"]
    return "\n".join(lines)


def _runs(timing: Timing) -> str:
    return ", ".join(f"{seconds:.2f}" for seconds in timing.runs)
