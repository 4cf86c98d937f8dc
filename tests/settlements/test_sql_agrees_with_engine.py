"""The SQL path and the rule engine agree line by line on random histories.

Hypothesis writes random programmes and histories straight into the database —
switches (late ones only after a lost authorization), every event type in any
order with same-day ties, baselines complete or not, values of two measures in
several units and spellings from every kind of reporter, near thresholds and
window ends, corrections, and records made after the run's cutoff — then
compares the lines ``evaluate_in_sql`` writes with the engine's evaluation of
the exported input, and with the engine reading the exported file.

The comparison needs PostgreSQL (on SQLite the platform itself uses the engine,
so there is nothing to compare): elsewhere the test is skipped, and it fails in
CI, where ``REQUIRE_POSTGRES=1`` is set.
"""

from __future__ import annotations

import itertools
import os
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from apps.measurements.models import FollowUpDue, Measurement, MeasurementType
from apps.programs.models import Programme
from apps.programs.selectors import programme_version_current
from apps.providers.models import AuthorizationDecision, AuthorizationStatus, DecisionKind
from apps.registry.models import LifecycleEvent, Listing, Prepatient
from apps.settlements.dbpath import evaluate_in_sql
from apps.settlements.export import iter_input_lines, settlement_input
from apps.settlements.models import PrepatientLine, RunKind, SettlementRun
from prevention_engine.dates import add_months
from prevention_engine.interchange import evidence_document, loads, recompute
from tests.factories import (
    ProviderFactory,
    UserFactory,
    changed,
    programme_publish,
    shipped_definition,
)

pytestmark = pytest.mark.django_db

STOCKHOLM = ZoneInfo("Europe/Stockholm")
CUTOFF = datetime(2030, 1, 1, 12, 0, tzinfo=STOCKHOLM)
BEFORE = CUTOFF - timedelta(days=400)
AFTER = CUTOFF + timedelta(days=10)
START = date(2026, 1, 1)
_codes = itertools.count(1)

REPORTERS = ["lab", "provider", "derived", "prepatient", "caseworker"]
UNITS = {"hba1c": ["mmol/mol", "%", "MMOL/MOL", " mmol/mol"], "weight": ["kg", "g", "KG"]}
NEAR = {"hba1c": {"mmol/mol": ["40", "41.9", "42", "42.5", "44", "47.9", "48", "50"],
                  "%": ["5.9", "5.99", "6", "6.55", "6.6", "7"]},
        "weight": {"kg": ["80", "89.5", "94.5", "95", "100", "101.25"],
                   "g": ["89500", "94999", "95000", "100000"]}}


@pytest.fixture
def postgres() -> None:
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail("REQUIRE_POSTGRES is set but the tests do not run on PostgreSQL")
        pytest.skip("compares the SQL path with the rule engine: needs PostgreSQL "
                    "(CI runs it with REQUIRE_POSTGRES=1)")


def _sources(data: Any) -> list[str]:
    return data.draw(st.sampled_from([["lab"], ["lab"], ["lab", "provider"], ["provider"],
                                      ["self", "lab"], ["lab", "provider", "self"]]))


def _criterion(data: Any) -> dict[str, Any]:
    measure = data.draw(st.sampled_from(["hba1c", "weight"]))
    compare = data.draw(st.sampled_from(["value", "value", "value", "change",
                                         "percent_change"]))
    threshold = {("hba1c", "value"): ["42", "41.9", "44"], ("weight", "value"): ["95", "90"],
                 ("hba1c", "change"): ["-2", "0"], ("weight", "change"): ["-5", "-0.5"],
                 ("hba1c", "percent_change"): ["-5", "0"],
                 ("weight", "percent_change"): ["-5", "-4.5"]}[(measure, compare)]
    return {"measure": measure, "unit": "mmol/mol" if measure == "hba1c" else "kg",
            "sources": _sources(data), "aggregate": data.draw(st.sampled_from(["closest", "mean"])),
            "compare": compare, "op": data.draw(st.sampled_from(["lt", "le", "gt", "ge"])),
            "threshold": data.draw(st.sampled_from(threshold))}


def _disqualifier(data: Any) -> dict[str, Any]:
    measure = data.draw(st.sampled_from(["hba1c", "weight"]))
    return {"measure": measure, "unit": "mmol/mol" if measure == "hba1c" else "kg",
            "sources": _sources(data), "op": data.draw(st.sampled_from(["ge", "gt", "lt"])),
            "threshold": data.draw(st.sampled_from(
                ["48", "47.9"] if measure == "hba1c" else ["101", "80"])),
            "reason": data.draw(st.sampled_from(["developed_diabetes", "weight_gain"]))}


def _moment(data: Any) -> datetime:
    """When a row was recorded: nearly always before the cutoff, sometimes after."""
    return AFTER if data.draw(st.integers(0, 9)) == 0 else BEFORE


def _day(data: Any, low: date, high: date) -> date:
    return low + timedelta(days=data.draw(st.integers(0, max(0, (high - low).days))))


def _programme(data: Any) -> Programme:
    months = data.draw(st.sampled_from([6, 12, 24]))
    return programme_publish(changed(shipped_definition(), {
        "code": f"random-{next(_codes)}", "timeline.programme_months": months,
        "timeline.switch_months": data.draw(st.sampled_from(
            [m for m in (3, 4, 18) if m <= months])),
        "outcome.window_days": data.draw(st.sampled_from([0, 5, 30])),
        "outcome.criteria": [_criterion(data)
                             for _ in range(data.draw(st.sampled_from([1, 1, 1, 2])))],
        "outcome.disqualifiers": [_disqualifier(data)
                                  for _ in range(data.draw(st.sampled_from([0, 1, 1, 2])))],
    }))


def _providers(data: Any) -> list[tuple[Any, date | None]]:
    actor = UserFactory()
    providers = []
    for _ in range(3):
        provider = ProviderFactory()
        lost = None
        if data.draw(st.booleans()):
            lost = _day(data, START + timedelta(days=60), START + timedelta(days=800))
            decided = datetime.combine(lost, time(10), STOCKHOLM)
            AuthorizationDecision.objects.create(
                provider=provider, decision=DecisionKind.SUSPEND,
                from_status=AuthorizationStatus.AUTHORIZED,
                to_status=AuthorizationStatus.SUSPENDED, reason="test", actor=actor,
                at=decided if decided <= CUTOFF else AFTER)
        providers.append((provider, lost))
    return providers


def _listings(data: Any, prepatient: Prepatient, providers: list[tuple[Any, date | None]],
              switch_months: int) -> None:
    enrolled = prepatient.enrolled_on
    assert enrolled is not None
    window_end = add_months(enrolled, switch_months)
    current, lost = data.draw(st.sampled_from(providers))
    Listing.objects.create(prepatient=prepatient, provider=current, valid_from=enrolled,
                           reason="initial", created_at=BEFORE)
    day = enrolled
    recorded = BEFORE
    for _ in range(data.draw(st.integers(0, 2))):
        day = day + timedelta(days=data.draw(st.integers(1, 400)))
        if day > window_end and (lost is None or lost > day):
            break  # the registry refuses a late switch from an authorized provider
        current, lost = data.draw(st.sampled_from(providers))
        # Switches are recorded in the order they happen: after one recorded past the
        # cutoff, every later one is too (else the file would skip a listing the
        # registry judged the next switch by).
        recorded = AFTER if recorded == AFTER else _moment(data)
        Listing.objects.create(prepatient=prepatient, provider=current, valid_from=day,
                               reason="switch", created_at=recorded)


def _value(data: Any, prepatient: Prepatient, measure: str, taken_on: date,
           types: dict[str, MeasurementType]) -> None:
    unit = data.draw(st.sampled_from(UNITS[measure]))
    value = data.draw(st.sampled_from(NEAR[measure][unit.strip().lower()]))
    kind = data.draw(st.sampled_from(["lab", "lab", "lab", *REPORTERS]))
    original = Measurement.objects.create(
        prepatient=prepatient, type=types[measure], value=Decimal("1"),
        reported_value=Decimal(value), reported_unit=unit, taken_on=taken_on,
        received_at=_moment(data), reporter_kind=kind, reporter=kind)
    if data.draw(st.integers(0, 5)) == 0:  # a correction, recorded before or after the cutoff
        Measurement.objects.create(
            prepatient=prepatient, type=types[measure], value=Decimal("1"),
            reported_value=Decimal(data.draw(st.sampled_from(
                NEAR[measure][unit.strip().lower()]))),
            reported_unit=unit, taken_on=taken_on, received_at=_moment(data),
            reporter_kind=kind, reporter=kind, supersedes=original)


def _measurements(data: Any, prepatient: Prepatient, end: date, window: int,
                  types: dict[str, MeasurementType]) -> None:
    """Per measure: usually a baseline value, values around the end and its window's
    edges (ties included), now and then one somewhere else."""
    enrolled = prepatient.enrolled_on
    assert enrolled is not None
    for measure in ("hba1c", "weight"):
        if data.draw(st.integers(0, 9)):
            _value(data, prepatient, measure, enrolled + timedelta(
                days=data.draw(st.sampled_from([0, 1, 15, 30, 31]))), types)
        for _ in range(data.draw(st.sampled_from([0, 1, 1, 2, 3]))):
            near = data.draw(st.sampled_from([end, end - timedelta(days=window),
                                              end + timedelta(days=window)]))
            _value(data, prepatient, measure,
                   near + timedelta(days=data.draw(st.sampled_from([-1, 0, 0, 0, 1]))), types)
        if data.draw(st.integers(0, 3)) == 0:
            _value(data, prepatient, measure, _day(data, enrolled - timedelta(days=5),
                                                   end + timedelta(days=window + 5)), types)


def _events(data: Any, prepatient: Prepatient, end: date) -> None:
    enrolled = prepatient.enrolled_on
    assert enrolled is not None
    for _ in range(data.draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 2, 3]))):
        kind = data.draw(st.sampled_from(["dropped_out", "consent_withdrawn", "excluded",
                                          "excluded", "excluded", "reinstated", "reinstated",
                                          "reinstated", "deceased", "completed"]))
        on = data.draw(st.sampled_from([enrolled, enrolled + timedelta(days=40), end,
                                        end + timedelta(days=1), end - timedelta(days=90)]))
        LifecycleEvent.objects.create(
            prepatient=prepatient, type=kind, on=on,
            reason=data.draw(st.sampled_from(["missed_followup", "other"]))
            if kind == "excluded" else "", created_at=_moment(data))


def _history(data: Any, programme: Programme, providers: list[tuple[Any, date | None]],
             types: dict[str, MeasurementType]) -> None:
    for _ in range(data.draw(st.integers(1, 8))):
        enrolled = data.draw(st.sampled_from([START, date(2026, 1, 31), date(2026, 2, 28),
                                              date(2026, 3, 15), date(2026, 8, 31)]))
        end = add_months(enrolled, programme.programme_months)
        prepatient = Prepatient.objects.create(
            programme=programme, programme_version=programme_version_current(programme),
            state="active", enrolled_on=enrolled, end_date=end,
            consent_valid=True)
        _listings(data, prepatient, providers, programme.switch_months)
        if data.draw(st.integers(0, 9)):
            FollowUpDue.objects.create(
                prepatient=prepatient, index=0, due_on=enrolled + timedelta(days=30),
                window_start=enrolled, window_end=enrolled + timedelta(days=30),
                completed_at=_moment(data) if data.draw(st.integers(0, 9)) else None)
        _events(data, prepatient, end)
        _measurements(data, prepatient, end, programme.outcome_window_days, types)


def _strip_references(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**item, "samples": [{k: v for k, v in sample.items() if k != "measurement"}
                                 for sample in item["samples"]]} for item in evidence]


@settings(max_examples=int(os.environ.get("SQL_AGREEMENT_EXAMPLES", "70")), deadline=None,
          database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_the_sql_path_gives_the_engines_lines_on_random_histories(postgres: None,
                                                                  data: Any) -> None:
    types = {kind.code: kind for kind in MeasurementType.objects.filter(
        code__in=["hba1c", "weight"])}
    programme = _programme(data)
    providers = _providers(data)
    _history(data, programme, providers, types)
    ends = [add_months(p.enrolled_on, programme.programme_months)
            for p in Prepatient.objects.filter(programme=programme)]
    as_of = data.draw(st.sampled_from([
        _day(data, min(ends) - timedelta(days=40), max(ends) + timedelta(days=60)),
        max(ends) + timedelta(days=data.draw(st.sampled_from([29, 30, 31, 90])))]))
    run = SettlementRun.objects.create(programme=programme,
                                       programme_version=programme_version_current(programme),
                                       kind=RunKind.PROVISIONAL,
                                       as_of=as_of, prepared_by=UserFactory(),
                                       prepared_at=CUTOFF)

    written = evaluate_in_sql(run=run)
    lines = {line.pseudonym: line for line in PrepatientLine.objects.filter(run=run)}
    version = programme_version_current(programme)
    expected = recompute(settlement_input(version, as_of, CUTOFF))
    assert written.lines == len(lines) == len(expected.evaluations)
    # The statement's own counts per provider are those of the engine.
    assert written.counts == {int(p.id[1:]): (p.successes, p.failures, p.pending)
                              for p in expected.providers if p.attributed}
    for evaluation in expected.evaluations:
        event(f"reason {evaluation.reason.split(':')[0]}")  # --hypothesis-show-statistics
        for evidence in evaluation.evidence:
            event(f"{evidence.rule} {evidence.aggregate} {evidence.compare} met={evidence.met}")
        line = lines[evaluation.id]
        assert (line.provider_id, line.result, line.reason, line.end_date, line.decided_on,
                line.evidence) == (
            int(evaluation.provider[1:]) if evaluation.provider else None,
            evaluation.result.value, evaluation.reason, evaluation.end_date,
            evaluation.event.on if evaluation.event else None,
            [evidence_document(item) for item in evaluation.evidence]), evaluation.id

    # The auditor's file of the same run is valid and recomputes to the same lines.
    from_file = recompute(loads("".join(iter_input_lines(version, as_of, CUTOFF))))
    for evaluation in from_file.evaluations:
        line = lines[evaluation.id]
        assert (line.provider_id, line.result, line.reason,
                _strip_references(line.evidence)) == (
            int(evaluation.provider[1:]) if evaluation.provider else None,
            evaluation.result.value, evaluation.reason,
            [evidence_document(item) for item in evaluation.evidence]), evaluation.id
