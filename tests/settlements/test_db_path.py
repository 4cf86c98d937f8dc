"""The database path, the rule engine and the auditor's file agree line by line."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from apps.core import clock
from apps.demo.simulation import simulate_programme
from apps.programs.models import Programme
from apps.settlements.export import settlement_input
from apps.settlements.models import PrepatientLine, ProviderLine, RunKind, RunStatus
from apps.settlements.rules import run_version
from apps.settlements.services import settlement_compute, settlement_prepare
from prevention_engine.interchange import evidence_document, input_document, recompute
from tests.factories import UserFactory, version_publish

pytestmark = pytest.mark.django_db

AS_OF = date(2029, 3, 1)


@pytest.fixture
def generated(programme: Programme) -> Programme:
    version_publish(programme, {"payment.min_attributed": 3})  # small providers, so
    # amounts are paid in a small run
    simulate_programme(programme=programme, prepatients=60, seed=7, out=lambda _line: None)
    return programme


def _lines(run) -> dict[str, tuple]:
    return {line.pseudonym: (line.provider_id, line.result, line.reason, line.decided_on,
                             line.evidence)
            for line in PrepatientLine.objects.filter(run=run)}


def test_the_database_path_gives_the_rule_engines_result_for_every_prepatient(
    generated: Programme, django_capture_on_commit_callbacks,
) -> None:
    with clock.travel_to(AS_OF), django_capture_on_commit_callbacks(execute=True):
        run = settlement_prepare(programme=generated, as_of=AS_OF, kind=RunKind.FINAL,
                                 prepared_by=UserFactory())
    run.refresh_from_db()
    assert run.status == RunStatus.COMPUTED, run.error
    expected = recompute(settlement_input(run_version(run), AS_OF, run.data_cutoff))
    lines = _lines(run)
    assert len(lines) == len(expected.evaluations) > 0
    for evaluation in expected.evaluations:
        assert lines[evaluation.id] == (
            int(evaluation.provider[1:]) if evaluation.provider else None,
            evaluation.result.value, evaluation.reason,
            evaluation.event.on if evaluation.event else None,
            [evidence_document(item) for item in evaluation.evidence],
        ), evaluation.id
    results = {line[1] for line in lines.values()}
    assert {"success", "failure", "excluded"} <= results
    by_provider = {f"P{line.provider_id}": line for line in ProviderLine.objects.filter(run=run)}
    for settled in expected.providers:
        line = by_provider[settled.id]
        assert (line.attributed, line.successes, line.paid_count, line.amount) == (
            settled.attributed, settled.successes, settled.paid_count, settled.amount)
    assert run.total_amount == expected.total_amount > 0


def test_export_then_recompute_gives_the_database_figures(generated: Programme,
                                                          tmp_path: Path) -> None:
    with clock.travel_to(AS_OF):
        run = settlement_prepare(programme=generated, as_of=AS_OF, kind=RunKind.PROVISIONAL,
                                 prepared_by=UserFactory())
        run = settlement_compute(run_id=run.pk)
    path = tmp_path / "input.json"
    call_command("settlement_export", "--run", str(run.pk), "--out", str(path))
    document = json.loads(path.read_text("utf-8"))
    # The streamed file is the document the rule engine reads, with pseudonymous IDs only.
    assert document == input_document(settlement_input(run_version(run), AS_OF, run.data_cutoff))
    assert all(p["id"].startswith("pp-") for p in document["prepatients"])
    out = io.StringIO()
    call_command("settlement_recompute", str(path), stdout=out)
    result = json.loads(out.getvalue())
    assert result["total_amount"] == f"{run.total_amount:.2f}"
    lines = {f"P{line.provider_id}": line for line in ProviderLine.objects.filter(run=run)}
    for provider in result["providers"]:
        line = lines[provider["id"]]
        assert (provider["attributed"], provider["successes"], provider["failures"],
                provider["pending"], provider["paid_count"], provider["amount"]) == (
            line.attributed, line.successes, line.failures, line.pending, line.paid_count,
            f"{line.amount:.2f}")
    db_lines = _lines(run)
    for item in result["prepatients"]:
        assert db_lines[item["id"]][1:3] == (item["result"], item["reason"])


def test_recomputing_a_run_gives_the_same_lines(generated: Programme) -> None:
    with clock.travel_to(AS_OF):
        run = settlement_prepare(programme=generated, as_of=AS_OF, kind=RunKind.PROVISIONAL,
                                 prepared_by=UserFactory())
        first = settlement_compute(run_id=run.pk)
        lines = _lines(first)
        second = settlement_compute(run_id=run.pk)
    assert _lines(second) == lines
    assert second.total_amount == first.total_amount


def test_the_auditors_file_is_downloaded_from_the_run_and_recomputes_to_its_total(
        generated: Programme, tmp_path: Path, caseworker_client: Any) -> None:
    with clock.travel_to(AS_OF):
        run = settlement_prepare(programme=generated, as_of=AS_OF, kind=RunKind.PROVISIONAL,
                                 prepared_by=UserFactory())
        run = settlement_compute(run_id=run.pk)
    page = caseworker_client.get(f"/admin/settlements/settlementrun/{run.pk}/change/")
    assert b"auditor-input.json" in page.content
    response = caseworker_client.get(
        f"/admin/settlements/settlementrun/{run.pk}/auditor-input.json")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    path = tmp_path / "download.json"
    path.write_bytes(b"".join(response.streaming_content))
    out = io.StringIO()
    call_command("settlement_recompute", str(path), stdout=out)
    assert json.loads(out.getvalue())["total_amount"] == f"{run.total_amount:.2f}"


def test_the_export_command_names_what_is_wrong() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--run: no settlement run 999999"):
        call_command("settlement_export", "--run", "999999")
    with pytest.raises(CommandError, match="--as-of: not a date"):
        call_command("settlement_export", "--programme", "prediabetes-2026", "--as-of", "soon")
    with pytest.raises(CommandError, match="Give --run, or --programme with --as-of"):
        call_command("settlement_export")
