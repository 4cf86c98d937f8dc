"""The measurements scenario: a whole synthetic programme, bulk intake, the overdue list.

Run through ``benchmarks/run.py`` (``make bench``), which prepares a dedicated
PostgreSQL database and Django before calling ``run_scenario``.

1. Generation: ``ProgrammeSimulation`` makes N prepatients with 24 months of
   follow-up data through the real services (the clock moves with
   ``clock.travel_to``). It pauses once in the middle of the programme (every
   prepatient enrolled, most in their first year) so that the overdue list can
   be timed on a busy day; the pause is not counted in the generation time.
2. Bulk intake: the same rows (complete follow-up sets for prepatients the
   providers can see, with fresh source references) go once through
   ``measurements_record_batch`` (consent gate, unit conversion, range checks,
   idempotency, derived BMI, follow-up completeness, safety notices) and once
   through a raw ``Measurement.objects.bulk_create``. Each run is inside a
   transaction that is rolled back, so the database is left as generated.
3. The overdue list: ``list(followups_overdue(today=...))``, the median of
   several runs, with its row count (mid-programme and at the end).
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction

from apps.consent.gate import prepatients_for_provider
from apps.core import clock
from apps.demo.simulation import ProgrammeSimulation, SimulationSummary
from apps.measurements.models import Measurement, MeasurementType, ReporterKind
from apps.measurements.rules import TYPES
from apps.measurements.selectors import followups_overdue
from apps.measurements.services import MeasurementInput, Reporter, measurements_record_batch
from apps.programs.models import Programme
from apps.providers.models import Provider
from apps.registry.models import Prepatient
from prevention_engine.dates import add_months

PROGRAMME = "prediabetes-2026"
INTAKE_BATCH = 5_000  # values per measurements_record_batch call (one provider's file)
RAW_BATCH = 2_000  # the batch size measurements_record_batch itself uses for bulk_create
OVERDUE_RUNS = 7
# One follow-up set as a provider reports it: (type, value) in the canonical unit.
FOLLOW_UP_SET = (("hba1c", "43.5"), ("triglycerides", "1.72"), ("cholesterol_total", "5.21"),
                 ("ldl", "3.32"), ("hdl", "1.28"), ("weight", "86.4"), ("findrisc", "14"))


class _Rollback(Exception):
    pass


@contextmanager
def rolled_back() -> Iterator[None]:
    """Runs the block in a transaction that is always rolled back."""
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


@dataclass
class OverdueTiming:
    today: date
    median_ms: float
    rows: int
    runs: list[float] = field(default_factory=list)


@dataclass
class IntakeTiming:
    values: int
    batches: int
    service_seconds: float
    raw_seconds: float
    derived: int  # BMI values the service added

    @property
    def service_rate(self) -> float:
        return self.values / self.service_seconds

    @property
    def raw_rate(self) -> float:
        return self.values / self.raw_seconds

    @property
    def ratio(self) -> float:
        """The service's throughput as a share of the raw insert's."""
        return self.service_rate / self.raw_rate


@dataclass
class ScenarioResult:
    prepatients: int
    seed: int
    workers: int
    generation_seconds: float
    summary: SimulationSummary
    intake: IntakeTiming
    overdue: list[OverdueTiming]
    database: str


def time_overdue(today: date, runs: int = OVERDUE_RUNS) -> OverdueTiming:
    """The median time of ``list(followups_overdue(today=today))``."""
    seconds = []
    rows = 0
    for _ in range(runs):
        started = time.perf_counter()
        rows = len(list(followups_overdue(today=today)))
        seconds.append(time.perf_counter() - started)
    return OverdueTiming(today=today, median_ms=statistics.median(seconds) * 1000, rows=rows,
                         runs=[s * 1000 for s in seconds])


def _intake_rows(values: int, today: date) -> list[tuple[Provider, list[MeasurementInput]]]:
    """Complete follow-up sets for prepatients their providers can see, newest day first,
    until ``values`` values; grouped by provider in files of at most INTAKE_BATCH."""
    visible: list[tuple[Provider, str]] = []
    for provider in Provider.objects.order_by("pk"):
        visible += [(provider, pseudonym) for pseudonym in prepatients_for_provider(provider)
                    .order_by("pk").values_list("pseudonym", flat=True)]
    if not visible:
        raise RuntimeError("No prepatient can receive values: generate a programme first.")
    by_provider: dict[int, list[MeasurementInput]] = defaultdict(list)
    providers: dict[int, Provider] = {}
    made = 0
    round_ = 0
    stamp = int(time.time())
    while made < values:
        taken_on = today - timedelta(days=round_)
        for provider, pseudonym in visible:
            for code, value in FOLLOW_UP_SET:
                if made >= values:
                    break
                providers[provider.pk] = provider
                by_provider[provider.pk].append(MeasurementInput(
                    prepatient=pseudonym, type=code, value=value,
                    unit=TYPES[code].canonical_unit, taken_on=taken_on,
                    source_reference=f"bench-{stamp}-{made}",
                ))
                made += 1
        round_ += 1
    files = []
    for pk, items in by_provider.items():
        for start in range(0, len(items), INTAKE_BATCH):
            files.append((providers[pk], items[start:start + INTAKE_BATCH]))
    return files


def time_intake(values: int, today: date) -> IntakeTiming:
    """``measurements_record_batch`` against a raw ``bulk_create`` of the same rows."""
    files = _intake_rows(values, today)
    types = {t.code: t for t in MeasurementType.objects.all()}
    pseudonyms = {item.prepatient for _p, items in files for item in items}
    ids = dict(Prepatient.objects.filter(pseudonym__in=pseudonyms)
               .values_list("pseudonym", "pk"))
    derived_before = Measurement.objects.filter(reporter_kind=ReporterKind.DERIVED).count()

    with clock.travel_to(today), rolled_back():
        started = time.perf_counter()
        for provider, items in files:
            result = measurements_record_batch(items=items,
                                               reporter=Reporter.for_provider(provider))
            if not result.committed or result.stored != len(items):
                raise RuntimeError(f"The service refused bench values: {result.items[:3]}")
        service_seconds = time.perf_counter() - started
        derived = (Measurement.objects.filter(reporter_kind=ReporterKind.DERIVED).count()
                   - derived_before)

    with clock.travel_to(today), rolled_back():
        started = time.perf_counter()
        now = clock.now()
        for provider, items in files:
            reporter = Reporter.for_provider(provider)
            Measurement.objects.bulk_create([
                Measurement(
                    prepatient_id=ids[item.prepatient], type=types[item.type],
                    value=Decimal(str(item.value)), reported_value=Decimal(str(item.value)),
                    reported_unit=item.unit, taken_on=item.taken_on, received_at=now,
                    reporter_kind=reporter.kind, reporter=reporter.reference, provider=provider,
                    source_reference=item.source_reference,
                ) for item in items
            ], batch_size=RAW_BATCH)
        raw_seconds = time.perf_counter() - started
    return IntakeTiming(values=values, batches=len(files), service_seconds=service_seconds,
                        raw_seconds=raw_seconds, derived=derived)


def run_scenario(*, prepatients: int, seed: int, workers: int, intake_values: int,
                 out: Callable[[str], None] = print) -> ScenarioResult:
    programme = Programme.objects.get(code=PROGRAMME)
    simulation = ProgrammeSimulation(programme=programme, prepatients=prepatients, seed=seed,
                                     out=out, workers=workers)
    overdue: list[OverdueTiming] = []
    out(f"Generating {prepatients} prepatients (seed {seed}, {workers} worker(s))…")
    started = time.perf_counter()
    try:
        simulation.setup()
        until = simulation.default_until
        # Mid-programme: recruitment has closed and everyone is in their programme.
        middle = add_months(programme.start_date, programme.recruitment_months + 6)
        if middle < until:
            simulation.advance_to(middle, report_all=False)
            paused = time.perf_counter()
            overdue.append(time_overdue(middle))
            started += time.perf_counter() - paused
        simulation.advance_to(until)
    finally:
        simulation.close()
    generation = time.perf_counter() - started
    summary = simulation.summary()
    out(f"Generated in {generation:.1f}s; timing bulk intake of {intake_values} values…")
    intake = time_intake(intake_values, until)
    overdue.append(time_overdue(until))
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = str(cursor.fetchone()[0]).split(" on ")[0]
    database = f"{version}, database {connection.settings_dict['NAME']}"
    return ScenarioResult(prepatients=prepatients, seed=seed, workers=workers,
                          generation_seconds=generation, summary=summary, intake=intake,
                          overdue=overdue, database=database)


def _n(value: float) -> str:
    return f"{value:,.0f}"


def report(result: ScenarioResult) -> str:
    """The figures as a table."""
    s, i = result.summary, result.intake
    rows: list[tuple[str, str]] = [
        ("Generation (through the services, clock moved)", ""),
        (f"  whole programme to {s.until}", f"{result.generation_seconds:,.1f} s"),
        ("  prepatients / enrolled", f"{_n(s.prepatients)} / {_n(s.enrolled)}"),
        ("  values reported / measurements stored",
         f"{_n(s.values_reported)} / {_n(s.measurements)}"),
        ("  of which BMI derived", _n(s.bmi_derived)),
        ("  values per second (whole generation)",
         _n(s.values_reported / result.generation_seconds)),
        ("  states", ", ".join(f"{k} {_n(v)}" for k, v in sorted(s.states.items()))),
        ("  providers / switches / safety notices",
         f"{s.providers} / {_n(s.listings_switched)} / {_n(s.safety_notices)}"),
        ("  excluded for missed follow-up", _n(s.missed_followup_exclusions)),
        ("  worker seconds by phase",
         ", ".join(f"{k} {v:,.0f}" for k, v in s.timings.items())),
        (f"Bulk intake ({_n(i.values)} values, {i.batches} batches, rolled back)", ""),
        ("  measurements_record_batch",
         f"{i.service_seconds:,.2f} s = {_n(i.service_rate)} values/s (+{_n(i.derived)} BMI)"),
        ("  raw Measurement.objects.bulk_create",
         f"{i.raw_seconds:,.2f} s = {_n(i.raw_rate)} values/s"),
        ("  ratio service / raw", f"{i.ratio:.2f} (raw is {1 / i.ratio:.1f}× faster)"),
        ("Overdue list: list(followups_overdue(today=…))", ""),
    ]
    for timing in result.overdue:
        rows.append((f"  today = {timing.today} (median of {len(timing.runs)})",
                     f"{timing.median_ms:,.1f} ms, {_n(timing.rows)} rows"))
    width = max(len(label) for label, _value in rows) + 2
    title = (f"Benchmark: {_n(result.prepatients)} prepatients, seed {result.seed}, "
             f"{result.workers} worker(s) — {result.database}")
    lines = [title, "=" * len(title)]
    lines += [f"{label:<{width}}{value}" for label, value in rows]
    return "\n".join(lines)
