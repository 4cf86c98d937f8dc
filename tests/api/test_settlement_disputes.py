"""Providers dispute their settlement lines through the API and read the decisions."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps as django_apps
from rest_framework.test import APIClient

from apps.core import clock
from apps.core.models import AccessLogEntry, AccessPurpose
from apps.measurements.models import FollowUpDue
from apps.providers.models import ApiCredential
from apps.providers.services import api_credential_issue
from apps.registry.models import Prepatient
from apps.settlements.models import Dispute, PrepatientLine, RunKind, RunStatus, SettlementRun
from apps.settlements.services import dispute_resolve, settlement_compute, settlement_prepare
from tests.api.conftest import TODAY, Personas, client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REASON = "The 24-month HbA1c from 2026-10-30 is missing."


@pytest.fixture
def run(personas: Personas, enroll: Any) -> tuple[SettlementRun, Prepatient]:
    prepatient = enroll(personas.provider_a)
    FollowUpDue.objects.filter(prepatient=prepatient, index=0).update(completed_at=clock.now())
    prepared = settlement_prepare(programme=prepatient.programme, as_of=TODAY,
                                  kind=RunKind.PROVISIONAL, prepared_by=UserFactory())
    computed = settlement_compute(run_id=prepared.pk)
    assert PrepatientLine.objects.get(run=computed).provider == personas.provider_a
    return computed, prepatient


def raise_url(run: SettlementRun | int | str, prepatient: Prepatient | str) -> str:
    run_id = run.pk if isinstance(run, SettlementRun) else run
    pseudonym = prepatient.pseudonym if isinstance(prepatient, Prepatient) else prepatient
    return f"/api/v1/settlements/{run_id}/lines/{pseudonym}/disputes/"


LIST = "/api/v1/settlements/disputes/"


def raise_dispute(client: APIClient, run: SettlementRun, prepatient: Prepatient,
                  reason: Any = REASON) -> Any:
    return client.post(raise_url(run, prepatient), {"reason": reason}, format="json")


def error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_a_provider_disputes_a_line_and_sees_it_in_its_list(personas: Personas, run: Any) -> None:
    computed, prepatient = run
    client = personas.client("provider_a")
    response = raise_dispute(client, computed, prepatient)
    assert response.status_code == 201, response.content
    dispute = Dispute.objects.get()
    body = response.json()
    assert body == {
        "id": dispute.pk, "run": computed.pk, "run_reference": computed.reference,
        "prepatient": prepatient.pseudonym, "line_result": "pending",
        "line_reason": "not_yet_due", "reason": REASON,
        "raised_at": body["raised_at"], "status": "open", "resolution_reason": None,
        "resolved_at": None,
    }
    assert dispute.raised_by_organisation == f"provider:{personas.provider_a.pk}"
    listing = client.get(LIST)
    assert listing.status_code == 200
    assert listing.json()["results"] == [body]


def test_raising_and_reading_disputes_write_the_access_log(personas: Personas,
                                                           run: Any) -> None:
    computed, prepatient = run
    client = personas.client("provider_a")
    assert raise_dispute(client, computed, prepatient).status_code == 201
    client.get(LIST)
    entries = AccessLogEntry.objects.filter(subject_type="registry.prepatient",
                                            subject_id=str(prepatient.pk))
    assert sorted(entries.values_list("what", "purpose", "actor_organisation")) == [
        ("api settlement dispute raised", AccessPurpose.SETTLEMENT,
         f"provider:{personas.provider_a.pk}"),
        ("api settlement disputes", AccessPurpose.SETTLEMENT,
         f"provider:{personas.provider_a.pk}"),
    ]


@pytest.mark.parametrize("body", [{"reason": ""}, {"reason": "   "}, {}, {"reason": None},
                                  {"reason": "x" * 2001}, {"reason": ["a"]}])
def test_a_dispute_without_a_usable_reason_is_400_naming_the_field(
    personas: Personas, run: Any, body: dict[str, Any],
) -> None:
    computed, prepatient = run
    response = personas.client("provider_a").post(raise_url(computed, prepatient), body,
                                                  format="json")
    assert response.status_code == 400
    problem = error(response)
    assert problem["code"] == "invalid"
    assert set(problem["fields"]) == {"reason"}
    assert not Dispute.objects.exists()


def test_a_second_open_dispute_of_the_line_is_409(personas: Personas, run: Any) -> None:
    computed, prepatient = run
    client = personas.client("provider_a")
    assert raise_dispute(client, computed, prepatient).status_code == 201
    second = raise_dispute(client, computed, prepatient, "And another thing.")
    assert second.status_code == 409
    assert error(second)["code"] == "dispute_already_open"
    assert Dispute.objects.count() == 1


def test_the_decision_is_visible_in_the_list_and_the_event_feed(personas: Personas,
                                                                run: Any) -> None:
    computed, prepatient = run
    client = personas.client("provider_a")
    created = raise_dispute(client, computed, prepatient).json()
    dispute_resolve(dispute=Dispute.objects.get(pk=created["id"]), decision="rejected",
                    reason="The sample was taken outside the outcome window.",
                    caseworker=UserFactory(username="cw"))
    [shown] = client.get(LIST).json()["results"]
    assert (shown["status"], shown["resolution_reason"]) == (
        "rejected", "The sample was taken outside the outcome window.")
    assert shown["resolved_at"] is not None
    events = client.get("/api/v1/events/").json()["events"]
    [decided] = [e for e in events if e["kind"] == "dispute_resolved"]
    assert decided["subject"] == prepatient.pseudonym
    assert decided["data"] == {"dispute": created["id"], "run": computed.pk,
                               "run_reference": computed.reference, "decision": "rejected"}
    other = personas.client("provider_b").get("/api/v1/events/").json()["events"]
    assert not [e for e in other if e["kind"] == "dispute_resolved"]
    # once decided, the line may be disputed again
    assert raise_dispute(client, computed, prepatient, "New evidence.").status_code == 201
    statuses = [d["status"] for d in client.get(LIST).json()["results"]]
    assert sorted(statuses) == ["open", "rejected"]


def test_the_list_filters_by_status_run_and_programme_id(personas: Personas, run: Any) -> None:
    computed, prepatient = run
    client = personas.client("provider_a")
    raise_dispute(client, computed, prepatient)

    def count(**query: Any) -> int:
        response = client.get(LIST, query)
        assert response.status_code == 200
        return len(response.json()["results"])

    assert count(status="open") == 1
    assert count(status="upheld") == 0
    assert count(run=computed.pk) == 1
    assert count(run=computed.pk + 1) == 0
    assert count(prepatient=prepatient.pseudonym) == 1
    assert count(prepatient="pp-0000000000") == 0
    for bad in ({"status": "closed"}, {"run": "abc"}, {"run": 0}):
        refused = client.get(LIST, bad)
        assert refused.status_code == 400
        assert set(error(refused)["fields"]) == set(bad)


def test_another_provider_neither_sees_nor_disputes_a_line(personas: Personas,
                                                           run: Any) -> None:
    computed, prepatient = run
    raise_dispute(personas.client("provider_a"), computed, prepatient)
    b = personas.client("provider_b")
    assert b.get(LIST).json()["results"] == []
    refused = raise_dispute(b, computed, prepatient)
    unknown = raise_dispute(b, computed, "pp-0000000000")
    assert refused.status_code == unknown.status_code == 404
    assert refused.json() == unknown.json()
    assert error(refused)["code"] == "settlement_line_not_found"
    assert Dispute.objects.count() == 1


@pytest.mark.parametrize("run_id", ["999999", "abc", "0", "9" * 40, "-1"])
def test_an_unknown_run_is_404(personas: Personas, run: Any, run_id: str) -> None:
    _computed, prepatient = run
    response = raise_dispute(personas.client("provider_a"), run_id, prepatient)
    assert response.status_code == 404
    assert error(response)["code"] == "settlement_line_not_found"


@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.COMPUTING, RunStatus.FAILED])
def test_a_run_that_is_not_visible_is_404(personas: Personas, run: Any, status: str) -> None:
    computed, prepatient = run
    SettlementRun.objects.filter(pk=computed.pk).update(status=status)
    response = raise_dispute(personas.client("provider_a"), computed, prepatient)
    assert response.status_code == 404
    assert error(response)["code"] == "settlement_line_not_found"


def test_a_line_in_another_run_is_404(personas: Personas, run: Any, enroll: Any) -> None:
    computed, prepatient = run
    later = settlement_compute(run_id=settlement_prepare(
        programme=prepatient.programme, as_of=TODAY, kind=RunKind.PROVISIONAL,
        prepared_by=UserFactory()).pk)
    client = personas.client("provider_a")
    assert raise_dispute(client, later, prepatient).status_code == 201
    someone_else = enroll(personas.provider_b)
    response = raise_dispute(client, later, someone_else)
    assert response.status_code == 404
    assert Dispute.objects.get().run == later
    assert client.get(LIST, {"run": computed.pk}).json()["results"] == []


@pytest.mark.parametrize(("persona", "raise_status", "list_status"), [
    ("lab", 403, 403),
    ("lab_without_results_scope", 403, 403),
    ("read_only", 403, 403),
    ("write_only", 403, 403),
    ("anonymous", 401, 401),
    ("revoked", 401, 401),
])
def test_keys_without_the_right_kind_or_scope_are_refused(
    personas: Personas, run: Any, persona: str, raise_status: int, list_status: int,
) -> None:
    computed, prepatient = run
    client = personas.client(persona)
    raised = raise_dispute(client, computed, prepatient)
    assert raised.status_code == raise_status
    error(raised)
    listed = client.get(LIST)
    assert listed.status_code == list_status
    error(listed)
    assert not Dispute.objects.exists()
    assert not AccessLogEntry.objects.filter(what__contains="dispute").exists()


def test_reading_needs_settlement_read_and_raising_also_settlement_dispute(
    personas: Personas, run: Any,
) -> None:
    computed, prepatient = run
    _r, read_key = api_credential_issue(provider=personas.provider_a, label="finance read",
                                       scopes=["settlement:read"])
    _d, dispute_key = api_credential_issue(provider=personas.provider_a, label="dispute only",
                                          scopes=["settlement:dispute"])
    reader, disputer = client_for(read_key), client_for(dispute_key)
    assert reader.get(LIST).status_code == 200
    refused = raise_dispute(reader, computed, prepatient)
    assert refused.status_code == 403
    assert "settlement:dispute" in error(refused)["message"]
    assert raise_dispute(disputer, computed, prepatient).status_code == 403
    assert disputer.get(LIST).status_code == 403
    assert not Dispute.objects.exists()


def test_a_body_that_is_not_json_is_refused(personas: Personas, run: Any) -> None:
    computed, prepatient = run
    client = personas.client("provider_a")
    response = client.post(raise_url(computed, prepatient), "reason=Wrong",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    error(response)
    assert not Dispute.objects.exists()


def test_new_provider_keys_may_dispute_and_old_full_keys_are_given_the_scope(
    personas: Personas,
) -> None:
    me = personas.client("provider_a").get("/api/v1/me/").json()
    assert "settlement:dispute" in me["scopes"]
    full = ApiCredential.objects.create(
        provider=personas.provider_a, label="old full", prefix="oldfull1", secret_hash="x",
        scopes=["prepatients:read", "measurements:write", "settlement:read"])
    narrow = ApiCredential.objects.create(
        provider=personas.provider_a, label="old narrow", prefix="oldnarr1", secret_hash="x",
        scopes=["settlement:read"])
    migration = importlib.import_module(
        "apps.providers.migrations.0003_settlement_dispute_scope")
    migration.grant_dispute_scope(django_apps, None)
    full.refresh_from_db()
    narrow.refresh_from_db()
    assert full.scopes == ["prepatients:read", "measurements:write", "settlement:read",
                           "settlement:dispute"]
    assert narrow.scopes == ["settlement:read"]
    migration.withdraw_dispute_scope(django_apps, None)
    full.refresh_from_db()
    assert full.scopes == ["prepatients:read", "measurements:write", "settlement:read"]
