"""The auditor's file built by PostgreSQL is, byte for byte, the engine writer's file.

On PostgreSQL ``iter_input_lines`` streams each prepatient's line as the database
builds it (``apps.settlements.export_sql``); ``engine_input_lines`` writes the
file in Python from ``iter_prepatients`` (the path on SQLite). Random programmes
and histories — several programmes and versions side by side, corrections, values
in % and in odd spellings of their units, switches, every event type, missing
baselines, baselines compared by change and percent change, and records made
after the cutoff — are exported both ways and compared byte for byte; then the
file of a computed run is recomputed by the engine in a separate process and
gives the run's figures.

These tests need PostgreSQL (elsewhere there is only the one writer): they are
skipped on SQLite, and fail in CI, where ``REQUIRE_POSTGRES=1`` is set.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.measurements.models import AcceptedUnit, FollowUpDue, Measurement, MeasurementType
from apps.programs.models import Programme, ProgrammeVersion
from apps.programs.selectors import programme_version_current
from apps.providers.models import AuthorizationDecision, AuthorizationStatus, DecisionKind
from apps.registry.models import LifecycleEvent, Listing, Prepatient
from apps.settlements import export_sql
from apps.settlements.export import engine_input_lines, iter_input_lines, run_input_lines
from apps.settlements.models import PrepatientLine, ProviderLine, RunKind, SettlementRun
from apps.settlements.services import settlement_compute
from prevention_engine.dates import add_months
from tests.factories import (
    ProviderFactory,
    UserFactory,
    changed,
    programme_publish,
    shipped_definition,
    version_publish,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
STOCKHOLM = ZoneInfo("Europe/Stockholm")
CUTOFF = datetime(2030, 1, 1, 12, 0, tzinfo=STOCKHOLM)
BEFORE = CUTOFF - timedelta(days=400)
AFTER = CUTOFF + timedelta(days=10)
START = date(2026, 1, 1)
MICRO = "µmol/L"  # with the micro sign, which folds to the Greek mu
_numbers = itertools.count(1)

REPORTERS = ["lab", "provider", "derived", "prepatient", "caseworker"]
# Per measure: the spellings values are reported in (as stored: stripped), and values.
UNITS = {
    "hba1c": ["mmol/mol", "%", "MMOL/MOL", "Mmol/Mol", "mmol/mol\u00a0x", "mmol/mol\u3000"],
    "weight": ["kg", "g", "KG", "\u212ag", "G", "kg\\", 'k"g'],  # \u212a: the Kelvin sign
    "creatinine": [MICRO, "\u03bcmol/l", "\u039cMOL/L", "mg/dL", "MG/DL", "mmol/L"],
}
VALUES = ["0", "0.000", "-0.5", "40", "41.900", "42.5", "47.125", "100.000", "9999999.999",
          "0.001", "-12.300", "123.45"]
PSEUDONYMS = ['pp-"quoted"', "pp-back\\slash", "pp-tab\there", "pp-nl\nx", "pp-Åsa-€-😀",
              "pp-\u0001ctl", "pp-/solidus", "pp-\u2028sep"]


@pytest.fixture
def postgres() -> None:
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail("REQUIRE_POSTGRES is set but the tests do not run on PostgreSQL")
        pytest.skip("compares the database's file with the engine writer's: needs PostgreSQL "
                    "(CI runs it with REQUIRE_POSTGRES=1)")


@pytest.fixture
def creatinine(db: Any) -> MeasurementType:
    """A measure stored in a unit spelled beyond ASCII (µ folds to μ), with a conversion."""
    kind, _created = MeasurementType.objects.get_or_create(
        code="creatinine", defaults={"name_sv": "Kreatinin", "name_en": "Creatinine",
                                     "canonical_unit": MICRO, "decimal_places": 0,
                                     "plausible_min": Decimal("10"),
                                     "plausible_max": Decimal("2000")})
    AcceptedUnit.objects.get_or_create(type=kind, unit="mg/dL",
                                       defaults={"multiply": Decimal("88.4")})
    return kind


def _both(version: ProgrammeVersion, as_of: date, cutoff: datetime | None) -> tuple[str, str]:
    return ("".join(iter_input_lines(version, as_of, cutoff)),
            "".join(engine_input_lines(version, as_of, cutoff)))


def _day(data: Any, low: date, high: date) -> date:
    return low + timedelta(days=data.draw(st.integers(0, max(0, (high - low).days))))


def _moment(data: Any) -> datetime:
    """When a row was recorded: mostly before the cutoff, sometimes after."""
    return AFTER if data.draw(st.integers(0, 7)) == 0 else BEFORE


def _rule(data: Any, measure: str, *, criterion: bool) -> dict[str, Any]:
    unit = {"hba1c": "mmol/mol", "weight": "kg", "creatinine": MICRO}[measure]
    sources = data.draw(st.sampled_from([["lab"], ["lab", "provider"], ["self", "lab"],
                                         ["provider", "self"], ["device", "lab"],
                                         ["device"]]))
    rule = {"measure": measure, "unit": unit, "sources": sources,
            "op": data.draw(st.sampled_from(["lt", "le", "gt", "ge"])),
            "threshold": data.draw(st.sampled_from(["42", "0", "-5", "95.5"]))}
    if not criterion:
        return {**rule, "reason": "developed_diabetes"}
    return {**rule, "aggregate": data.draw(st.sampled_from(["closest", "mean"])),
            "compare": data.draw(st.sampled_from(["value", "change", "percent_change"]))}


def _programme(data: Any) -> Programme:
    months = data.draw(st.sampled_from([6, 12, 24]))
    measures = data.draw(st.lists(st.sampled_from(["hba1c", "weight", "creatinine"]),
                                  min_size=1, max_size=3, unique=True))
    return programme_publish(changed(shipped_definition(), {
        "code": f"export-{next(_numbers)}", "timeline.programme_months": months,
        "timeline.switch_months": data.draw(st.sampled_from([m for m in (3, 18) if m <= months])),
        "outcome.window_days": data.draw(st.sampled_from([0, 30])),
        "outcome.criteria": [_rule(data, measure, criterion=True) for measure in measures],
        "outcome.disqualifiers": [_rule(data, measure, criterion=False) for measure
                                  in data.draw(st.lists(st.sampled_from(measures), max_size=2))],
    }))


def _providers(data: Any) -> list[Any]:
    actor = UserFactory()
    providers = []
    for _ in range(3):
        provider = ProviderFactory()
        if data.draw(st.booleans()):
            lost = _day(data, START + timedelta(days=60), START + timedelta(days=700))
            AuthorizationDecision.objects.create(
                provider=provider, decision=DecisionKind.SUSPEND,
                from_status=AuthorizationStatus.AUTHORIZED,
                to_status=AuthorizationStatus.SUSPENDED, reason="test", actor=actor,
                at=datetime.combine(lost, time(10), STOCKHOLM) if data.draw(st.booleans())
                else AFTER)
        providers.append(provider)
    return providers


def _value(data: Any, prepatient: Prepatient, kind: MeasurementType, taken_on: date) -> None:
    reporter = data.draw(st.sampled_from(["lab", *REPORTERS]))
    unit = data.draw(st.sampled_from(UNITS[kind.code]))
    original = Measurement.objects.create(
        prepatient=prepatient, type=kind, value=Decimal("1"),
        reported_value=Decimal(data.draw(st.sampled_from(VALUES))), reported_unit=unit,
        taken_on=taken_on, received_at=_moment(data), reporter_kind=reporter,
        reporter=reporter)
    if data.draw(st.integers(0, 4)) == 0:  # corrected, before or after the cutoff
        Measurement.objects.create(
            prepatient=prepatient, type=kind, value=Decimal("1"),
            reported_value=Decimal(data.draw(st.sampled_from(VALUES))), reported_unit=unit,
            taken_on=taken_on, received_at=_moment(data), reporter_kind=reporter,
            reporter=reporter, supersedes=original)


def _prepatient(data: Any, programme: Programme, version: ProgrammeVersion,
                providers: list[Any], kinds: list[MeasurementType]) -> None:
    enrolled = data.draw(st.sampled_from([START, date(2026, 1, 31), date(2026, 2, 28),
                                          date(2026, 8, 31), None]))
    prepatient = Prepatient.objects.create(
        programme=programme, programme_version=version, enrolled_on=enrolled,
        state="candidate" if enrolled is None else "active", consent_valid=True,
        **({"pseudonym": f"{data.draw(st.sampled_from(PSEUDONYMS))}{next(_numbers)}"[-16:]}
           if data.draw(st.integers(0, 3)) == 0 else {}))
    if enrolled is None:
        return
    end = add_months(enrolled, programme.programme_months)
    day = enrolled
    for index in range(data.draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):
        Listing.objects.create(prepatient=prepatient, provider=data.draw(st.sampled_from(
            providers)), valid_from=day, reason="initial" if index == 0 else "switch",
            created_at=_moment(data))
        day += timedelta(days=data.draw(st.sampled_from([1, 40, 400, 900])))
    if data.draw(st.integers(0, 5)):
        first = enrolled + timedelta(days=data.draw(st.sampled_from([0, 5])))
        FollowUpDue.objects.create(
            prepatient=prepatient, index=0, due_on=first + timedelta(days=30),
            window_start=first, window_end=first + timedelta(days=30),
            completed_at=_moment(data) if data.draw(st.integers(0, 5)) else None)
    for _ in range(data.draw(st.sampled_from([0, 0, 1, 2, 4]))):
        kind = data.draw(st.sampled_from(["dropped_out", "consent_withdrawn", "excluded",
                                          "reinstated", "deceased", "completed", "enrolled"]))
        LifecycleEvent.objects.create(
            prepatient=prepatient, type=kind,
            on=data.draw(st.sampled_from([enrolled, enrolled + timedelta(days=40), end])),
            reason=data.draw(st.sampled_from(["missed_followup", "other"]))
            if kind == "excluded" else "", created_at=_moment(data))
    for kind in kinds:
        for _ in range(data.draw(st.sampled_from([0, 1, 2, 3]))):
            _value(data, prepatient, kind, data.draw(st.sampled_from(
                [enrolled, enrolled + timedelta(days=3), enrolled + timedelta(days=3),
                 end, end + timedelta(days=1), enrolled - timedelta(days=2)])))


@settings(max_examples=int(os.environ.get("EXPORT_SQL_EXAMPLES", "30")), deadline=None,
          database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_the_database_writes_the_engine_writers_file_byte_for_byte(
    postgres: None, creatinine: MeasurementType, data: Any,
) -> None:
    kinds = list(MeasurementType.objects.filter(code__in=["hba1c", "weight", "creatinine"]))
    providers = _providers(data)
    programmes = [_programme(data) for _ in range(data.draw(st.integers(1, 2)))]
    versions = []
    for programme in programmes:
        for _round in range(data.draw(st.integers(1, 2))):  # a second version: new joiners
            if _round:
                version_publish(programme, {"payment.min_attributed": 2})
            version = programme_version_current(programme)
            versions.append(version)
            for _ in range(data.draw(st.integers(0, 6))):
                _prepatient(data, programme, version, providers, kinds)
    for version in versions:
        as_of = data.draw(st.sampled_from([date(2026, 1, 31), date(2027, 3, 1),
                                           date(2029, 12, 31)]))
        cutoff = data.draw(st.sampled_from([CUTOFF, None, BEFORE]))
        database, engine = _both(version, as_of, cutoff)
        assert database == engine


def test_every_string_is_escaped_as_the_engine_writes_it(postgres: None,
                                                          programme: Programme) -> None:
    """Quotes, backslashes, control and non-ASCII characters in pseudonyms and units."""
    version = programme_version_current(programme)
    hba1c = MeasurementType.objects.get(code="hba1c")
    provider = ProviderFactory()
    for number, pseudonym in enumerate(PSEUDONYMS):
        prepatient = Prepatient.objects.create(
            programme=programme, programme_version=version, state="active",
            enrolled_on=START, consent_valid=True, pseudonym=pseudonym)
        Listing.objects.create(prepatient=prepatient, provider=provider, valid_from=START,
                               reason="initial", created_at=BEFORE)
        for unit in ['"%"', "mmol\\mol", "mmol/mol\n", "\u00e5\u00e4\u00f6", "\t%", "\u2028"]:
            Measurement.objects.create(
                prepatient=prepatient, type=hba1c, value=Decimal(1),
                reported_value=Decimal(f"{40 + number}.100"), reported_unit=unit,
                taken_on=START, received_at=BEFORE, reporter_kind="lab", reporter="lab")
    database, engine = _both(version, date(2029, 3, 31), CUTOFF)
    assert database == engine
    assert '"pp-back\\\\slash"' in database and '"pp-\\u0001ctl"' in database


def test_the_file_is_the_same_however_it_is_cut_into_pieces(
    postgres: None, programme: Programme, monkeypatch: pytest.MonkeyPatch,
) -> None:
    version = programme_version_current(programme)
    hba1c = MeasurementType.objects.get(code="hba1c")
    provider = ProviderFactory()
    for number in range(5):
        prepatient = Prepatient.objects.create(
            programme=programme, programme_version=version, state="active",
            enrolled_on=START, consent_valid=True, pseudonym=f"pp-piece\\{number}")
        Listing.objects.create(prepatient=prepatient, provider=provider, valid_from=START,
                               reason="initial", created_at=BEFORE)
        Measurement.objects.create(
            prepatient=prepatient, type=hba1c, value=Decimal(1), reported_value=Decimal("41"),
            reported_unit="mmol/mol", taken_on=START, received_at=BEFORE,
            reporter_kind="lab", reporter="lab")
    whole = "".join(iter_input_lines(version, date(2029, 3, 31), CUTOFF))
    monkeypatch.setattr(export_sql, "PIECE_BYTES", 1)  # a piece after every line
    pieces = list(iter_input_lines(version, date(2029, 3, 31), CUTOFF))
    assert len(pieces) == 1 + 5 + 1  # the head, a piece per line, the closing brackets
    assert "".join(pieces) == whole == "".join(engine_input_lines(version, date(2029, 3, 31),
                                                                  CUTOFF))
    empty = programme_version_current(programme_publish(changed(shipped_definition(), {
        "code": "export-empty"})))
    database, engine = _both(empty, date(2029, 3, 31), CUTOFF)
    assert database == engine
    assert json.loads(database)["prepatients"] == []


KEYS = ["mmol/mol", "%", "kg", "\u03bcmol/l", "mm[hg]", "ss", "a.b*c", "mg / dl", "x\\y"]
TEXTS = ["mmol/mol", "MMOL/MOL", " mmol/mol\t", "\u00a0mmol/mol\u3000", "mmol/mol x",
         "mmol/mo", "mmol/moll", "mmol\u2028/mol", "%", " % ", "%%", "kg", "KG", "\u212ag",
         "k g", "\u00b5mol/L", "\u039cMOL/L", "\u03bcmol/l", "\u00b5mol/l ", "mm[Hg]", "MM[HG]",
         "mmHg", "ss", "SS", "\u00df", "\u1e9e", "\u017fs", "s\u017f", "sss", "aXb*c", "a.b*c",
         "A.B*C", "ab*c", "mg / dL", "mg  / dl", "x\\y", "X\\Y", "x\\\\y", "\u1c80", "", " "]


def test_units_are_folded_by_the_database_exactly_as_python_folds_them(postgres: None) -> None:
    with connection.cursor() as cursor:
        for key in KEYS:
            pattern = export_sql.unit_pattern(key)
            cursor.execute("SELECT t, t ~ %s FROM unnest(%s::text[]) AS t", [pattern, TEXTS])
            assert dict(cursor.fetchall()) == {text: text.strip().casefold() == key
                                               for text in TEXTS}, key


def test_the_recomputed_export_of_a_run_gives_the_runs_figures(
    postgres: None, programme: Programme, tmp_path: Path,
) -> None:
    """The run computed by the database, its file written by the database, recomputed by
    the engine in a process of its own (``python -m prevention_engine recompute``)."""
    version = version_publish(programme, {"payment.min_attributed": 1})
    hba1c = MeasurementType.objects.get(code="hba1c")
    providers = [ProviderFactory(), ProviderFactory()]
    enrolled = START
    end = add_months(enrolled, 24)
    for number in range(12):
        prepatient = Prepatient.objects.create(
            programme=programme, programme_version=version, state="active",
            enrolled_on=enrolled, consent_valid=True)
        Listing.objects.create(prepatient=prepatient, provider=providers[number % 2],
                               valid_from=enrolled, reason="initial", created_at=BEFORE)
        if number % 5:
            FollowUpDue.objects.create(prepatient=prepatient, index=0, due_on=enrolled,
                                       window_start=enrolled, window_end=enrolled,
                                       completed_at=BEFORE)
        if number == 3:
            LifecycleEvent.objects.create(prepatient=prepatient, type="dropped_out",
                                          on=enrolled + timedelta(days=90), created_at=BEFORE)
        value, unit = (("5.8", "%") if number % 4 == 0 else (f"{36 + number}.0", "mmol/mol"))
        Measurement.objects.create(
            prepatient=prepatient, type=hba1c, value=Decimal(1), reported_value=Decimal(value),
            reported_unit=unit, taken_on=end, received_at=BEFORE, reporter_kind="lab",
            reporter="lab")
    run = SettlementRun.objects.create(programme=programme, programme_version=version,
                                       as_of=date(2029, 3, 31), kind=RunKind.PROVISIONAL,
                                       prepared_by=UserFactory(), prepared_at=CUTOFF)
    run = settlement_compute(run_id=run.pk)
    path = tmp_path / "input.json"
    call_command("settlement_export", "--run", str(run.pk), "--out", str(path))
    assert path.read_text("utf-8") == "".join(run_input_lines(run)) == "".join(
        engine_input_lines(version, run.as_of, run.data_cutoff))
    done = subprocess.run([sys.executable, "-m", "prevention_engine", "recompute", str(path)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert result["total_amount"] == f"{run.total_amount:.2f}"
    lines = {f"P{line.provider_id}": line for line in ProviderLine.objects.filter(run=run)}
    assert {p["id"] for p in result["providers"] if p["attributed"]} == set(lines)
    for provider in result["providers"]:
        if provider["id"] in lines:
            line = lines[provider["id"]]
            assert (provider["attributed"], provider["successes"], provider["failures"],
                    provider["pending"], provider["paid_count"], provider["amount"]) == (
                line.attributed, line.successes, line.failures, line.pending,
                line.paid_count, f"{line.amount:.2f}")
    by_pseudonym = {line.pseudonym: line for line in PrepatientLine.objects.filter(run=run)}
    assert {item["id"]: (item["result"], item["reason"]) for item in result["prepatients"]} == {
        pseudonym: (line.result, line.reason) for pseudonym, line in by_pseudonym.items()}


def test_a_download_abandoned_midway_leaves_the_connection_as_it_was(
    postgres: None, programme: Programme, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client that stops reading (the admin's streamed download) ends the statement
    while the database is still sending; the settings the export chose for it do not
    outlive it, and the caller's transaction goes on."""
    version = programme_version_current(programme)
    provider = ProviderFactory()
    prepatients = Prepatient.objects.bulk_create(
        Prepatient(programme=programme, programme_version=version, state="active",
                   enrolled_on=START, end_date=add_months(START, 24), consent_valid=True,
                   pseudonym=f"pp-abandon-{number:05d}") for number in range(3000))
    Listing.objects.bulk_create(
        Listing(prepatient=prepatient, provider=provider, valid_from=START, reason="initial",
                created_at=BEFORE) for prepatient in prepatients)
    monkeypatch.setattr(export_sql, "PIECE_BYTES", 1)
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        before = cursor.fetchone()[0]
    lines = iter_input_lines(version, date(2029, 3, 31), CUTOFF)
    assert next(lines).startswith('{"format": "prevention-settlement-input/2"')
    assert next(lines).startswith(' "prepatients": [\n  {"id": "pp-abandon-00000"')
    lines.close()
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone()[0] == before
    assert Prepatient.objects.filter(programme_version=version).count() == 3000
