from __future__ import annotations

import pytest

from apps.core import clock
from apps.core.models import AccessLogEntry
from apps.measurements.models import FollowUpDue
from apps.settlements.models import RunKind
from apps.settlements.services import settlement_compute, settlement_prepare
from tests.api.conftest import TODAY, Personas
from tests.factories import UserFactory


@pytest.fixture
def run(personas, enroll):
    prepatient = enroll(personas.provider_a)
    FollowUpDue.objects.filter(prepatient=prepatient, index=0).update(completed_at=clock.now())
    prepared = settlement_prepare(programme=prepatient.programme, as_of=TODAY,
                                  kind=RunKind.PROVISIONAL, prepared_by=UserFactory())
    return settlement_compute(run_id=prepared.pk), prepatient


def test_a_provider_sees_its_own_figures_and_why_for_each_line(personas, run) -> None:
    computed, prepatient = run
    client = personas.client("provider_a")
    listing = client.get("/api/v1/settlements/").json()
    assert [(r["run"], r["attributed"], r["pending"], r["amount"]) for r in listing] == [
        (computed.pk, 1, 1, "0.00")]
    lines = client.get(f"/api/v1/settlements/{computed.pk}/lines/").json()["results"]
    assert lines == [{"prepatient": prepatient.pseudonym, "result": "pending",
                      "reason": "not_yet_due", "end_date": "2028-08-03",
                      "decided_on": None, "evidence": [],
                      "explanation": "Not yet evaluated: the outcome window ends on 2028-09-02"}]
    assert AccessLogEntry.objects.filter(what="api settlement lines",
                                         subject_id=str(prepatient.pk)).count() == 1


@pytest.mark.parametrize("persona,status", [
    ("provider_b", 404), ("lab", 403), ("anonymous", 401), ("revoked", 401),
    ("read_only", 403),
])
def test_others_cannot_read_a_providers_settlement_lines(personas, run, persona: str,
                                                         status: int) -> None:
    computed, _prepatient = run
    response = personas.client(persona).get(f"/api/v1/settlements/{computed.pk}/lines/")
    assert response.status_code == status
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_another_provider_lists_no_settlement_figures(personas, run) -> None:
    assert personas.client("provider_b").get("/api/v1/settlements/").json() == []


@pytest.mark.parametrize("run_id", ["99999999999999999999999", "١٢", "1e3", "-1"])
def test_a_run_number_no_run_can_have_is_not_found(personas: Personas, run_id: str) -> None:
    response = personas.client("provider_a").get(f"/api/v1/settlements/{run_id}/lines/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "settlement_not_found"
