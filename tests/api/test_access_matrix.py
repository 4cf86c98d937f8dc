"""Who may call what: every endpoint against every persona.

Personas: provider A (whose prepatient it is), provider B (someone else's),
a laboratory, an anonymous caller (no key: 401), a revoked key (401), and keys
without the scope the endpoint needs (403). A prepatient that is not visible
is answered 404 in the error shape, never 403, so its existence is not given
away. Every read of a prepatient's data writes the access log.

The dispute endpoints run against a computed settlement run in which provider
A's prepatient is attributed to A (``{run}`` in the path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.response import Response

from apps.consent.models import ConsentKind
from apps.consent.services import consent_withdraw
from apps.core import clock
from apps.core.models import AccessLogEntry, AccessPurpose
from apps.measurements.models import FollowUpDue, Measurement
from apps.registry.models import Prepatient
from apps.registry.services import listing_switch
from apps.settlements.models import RunKind, SettlementRun
from apps.settlements.services import settlement_compute, settlement_prepare
from tests.api.conftest import TODAY, Personas
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def settled_run(prepatient: Prepatient) -> int:
    """A computed run in which the prepatient is attributed to its provider (made once)."""
    existing = SettlementRun.objects.filter(prepatient_lines__prepatient=prepatient).first()
    if existing is not None:
        return existing.pk
    FollowUpDue.objects.filter(prepatient=prepatient, index=0).update(completed_at=clock.now())
    run = settlement_prepare(programme=prepatient.programme, as_of=TODAY,
                             kind=RunKind.PROVISIONAL, prepared_by=UserFactory())
    return settlement_compute(run_id=run.pk).pk


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # with {p} for the prepatient's programme ID and {run} for a settlement run
    body: Callable[[Prepatient], dict[str, Any]] | None = None
    reads_health_data: bool = False
    purpose: str = AccessPurpose.CARE

    def call(self, personas: Personas, persona: str, prepatient: Prepatient) -> Response:
        client = personas.client(persona)
        run = settled_run(prepatient) if "{run}" in self.path else None
        path = "/api/v1/" + self.path.format(p=prepatient.pseudonym, run=run)
        if self.method == "get":
            return client.get(path)
        body = self.body(prepatient) if self.body else {}
        return client.post(path, body, format="json")


def upload(prepatient: Prepatient) -> dict[str, Any]:
    return {"items": [{"prepatient": prepatient.pseudonym, "type": "hba1c", "value": "41.5",
                       "unit": "mmol/mol", "taken_on": TODAY.isoformat(),
                       "source_reference": "visit-1"}]}


def dispute(prepatient: Prepatient) -> dict[str, Any]:
    return {"reason": "The outcome sample is missing from the line."}


def referral(prepatient: Prepatient) -> dict[str, Any]:
    return {"referral_code": "AAAA-BBBB-CCCC", "value": "44", "unit": "mmol/mol",
            "taken_on": TODAY.isoformat(), "sample_id": "S-1"}


ENDPOINTS = {e.name: e for e in [
    Endpoint("list", "get", "prepatients/", reads_health_data=True),
    Endpoint("detail", "get", "prepatients/{p}/", reads_health_data=True),
    Endpoint("history", "get", "prepatients/{p}/measurements/", reads_health_data=True),
    Endpoint("upload", "post", "measurements/", upload),
    Endpoint("events", "get", "events/", reads_health_data=True),
    Endpoint("overdue", "get", "overdue/", reads_health_data=True),
    Endpoint("dashboard", "get", "dashboard/"),
    Endpoint("referral", "post", "lab/referral-results/", referral),
    Endpoint("lab_results", "post", "lab/results/", upload),
    Endpoint("disputes", "get", "settlements/disputes/"),
    Endpoint("dispute_raise", "post", "settlements/{run}/lines/{p}/disputes/", dispute,
             reads_health_data=True, purpose=AccessPurpose.SETTLEMENT),
]}

PROVIDER_READS = ("list", "detail", "history", "events", "overdue", "dashboard")
LAB_WRITES = ("referral", "lab_results")
DISPUTES = ("disputes", "dispute_raise")

# (endpoint, persona) -> expected status; anonymous and revoked are 401 everywhere.
EXPECTED: dict[tuple[str, str], int] = {
    **{(name, "provider_a"): 200 for name in (*PROVIDER_READS, "upload")},
    **{(name, "provider_a"): 403 for name in LAB_WRITES},
    **{(name, "provider_b"): 200 for name in ("list", "events", "overdue", "dashboard")},
    ("detail", "provider_b"): 404,
    ("history", "provider_b"): 404,
    ("upload", "provider_b"): 400,  # refused per item: not listed with B
    **{(name, "provider_b"): 403 for name in LAB_WRITES},
    **{(name, "lab"): 403 for name in (*PROVIDER_READS, "upload")},
    ("referral", "lab"): 404,  # reaches the service: no referral has that code
    ("lab_results", "lab"): 200,
    **{(name, "read_only"): 200 for name in PROVIDER_READS},
    ("upload", "read_only"): 403,
    **{(name, "write_only"): 403 for name in PROVIDER_READS},
    ("upload", "write_only"): 200,
    **{(name, "lab_without_results_scope"): 403 for name in LAB_WRITES},
    # Disputes: settlement:read lists them; raising also needs settlement:dispute.
    ("disputes", "provider_a"): 200,
    ("disputes", "provider_b"): 200,  # an empty list: only one's own disputes
    ("dispute_raise", "provider_a"): 201,
    ("dispute_raise", "provider_b"): 404,  # not B's line
    **{(name, persona): 403 for name in DISPUTES
       for persona in ("lab", "lab_without_results_scope", "read_only", "write_only")},
}
for _name in ENDPOINTS:
    EXPECTED[_name, "anonymous"] = 401
    EXPECTED[_name, "revoked"] = 401
    EXPECTED.setdefault((_name, "read_only"), 403)
    EXPECTED.setdefault((_name, "write_only"), 403)


@pytest.mark.parametrize(("endpoint", "persona"), sorted(EXPECTED))
def test_each_persona_gets_the_status_it_should(
    personas: Personas, prepatient_a: Prepatient, endpoint: str, persona: str,
) -> None:
    response = ENDPOINTS[endpoint].call(personas, persona, prepatient_a)
    assert response.status_code == EXPECTED[endpoint, persona], response.content
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}


def _own_reads(personas: Personas, prepatient: Prepatient,
               purpose: str = AccessPurpose.CARE) -> set[str]:
    return set(AccessLogEntry.objects.filter(
        actor_organisation=f"provider:{personas.provider_a.pk}",
        subject_type="registry.prepatient", subject_id=str(prepatient.pk),
        purpose=purpose,
    ).values_list("what", flat=True))


@pytest.mark.parametrize("endpoint", [n for n, e in ENDPOINTS.items() if e.reads_health_data])
def test_every_read_of_a_prepatient_is_in_the_access_log(
    personas: Personas, prepatient_a: Prepatient, endpoint: str,
) -> None:
    purpose = ENDPOINTS[endpoint].purpose
    assert not _own_reads(personas, prepatient_a, purpose)
    assert ENDPOINTS[endpoint].call(personas, "provider_a", prepatient_a).status_code in (
        200, 201)
    assert len(_own_reads(personas, prepatient_a, purpose)) == 1


def test_a_refused_read_writes_nothing_to_the_access_log(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    for name in ("detail", "history", "dispute_raise"):
        assert ENDPOINTS[name].call(personas, "provider_b", prepatient_a).status_code == 404
    assert not AccessLogEntry.objects.exists()


def test_provider_b_does_not_see_a_s_prepatient_in_any_list(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    client = personas.client("provider_b")
    assert client.get("/api/v1/prepatients/").json()["results"] == []
    assert client.get("/api/v1/overdue/").json()["results"] == []
    assert client.get("/api/v1/events/").json()["events"] == []
    assert client.get("/api/v1/dashboard/").json()["programmes"] == []
    refused = ENDPOINTS["upload"].call(personas, "provider_b", prepatient_a).json()
    assert refused["items"][0]["status"] == "error"
    assert "prepatient" in refused["items"][0]["errors"]
    assert not Measurement.objects.exists()


def test_an_unknown_programme_id_looks_exactly_like_someone_elses(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    client = personas.client("provider_b")
    someone_elses = client.get(f"/api/v1/prepatients/{prepatient_a.pseudonym}/")
    unknown = client.get("/api/v1/prepatients/pp-0000000000/")
    assert someone_elses.status_code == unknown.status_code == 404
    assert someone_elses.json() == unknown.json()


def test_after_consent_is_withdrawn_the_provider_sees_and_writes_nothing(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    consent_withdraw(prepatient=prepatient_a, kind=ConsentKind.DATA_SHARING)
    client = personas.client("provider_a")
    assert client.get(f"/api/v1/prepatients/{prepatient_a.pseudonym}/").status_code == 404
    assert client.get(
        f"/api/v1/prepatients/{prepatient_a.pseudonym}/measurements/").status_code == 404
    assert client.get("/api/v1/prepatients/").json()["results"] == []
    body = upload(prepatient_a)
    body["all_or_nothing"] = False
    response = client.post("/api/v1/measurements/", body, format="json")
    assert response.status_code == 200
    assert response.json()["items"][0]["status"] == "error"
    assert "prepatient" in response.json()["items"][0]["errors"]
    assert not Measurement.objects.exists()
    kinds = [e["kind"] for e in client.get("/api/v1/events/").json()["events"]]
    assert kinds == ["new_listing", "consent_withdrawn"]
    # A laboratory cannot report for the person either.
    lab = personas.client("lab").post("/api/v1/lab/results/", upload(prepatient_a),
                                      format="json")
    assert lab.status_code == 400
    assert lab.json()["items"][0]["status"] == "error"


def test_after_a_switch_the_old_provider_loses_access_and_the_new_one_gains_it(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    with clock.travel_to(TODAY):
        listing_switch(prepatient=prepatient_a, provider=personas.provider_b)
    a, b = personas.client("provider_a"), personas.client("provider_b")
    detail = f"/api/v1/prepatients/{prepatient_a.pseudonym}/"
    assert a.get(detail).status_code == 404
    assert a.get(detail + "measurements/").status_code == 404
    assert a.get("/api/v1/prepatients/").json()["results"] == []
    assert b.get(detail).status_code == 200
    assert [p["pseudonym"] for p in b.get("/api/v1/prepatients/").json()["results"]] == [
        prepatient_a.pseudonym]
    refused = a.post("/api/v1/measurements/", upload(prepatient_a), format="json")
    assert refused.status_code == 400
    assert "prepatient" in refused.json()["items"][0]["errors"]
    events_a = a.get("/api/v1/events/").json()["events"]
    assert [(e["kind"], e["subject"]) for e in events_a] == [
        ("new_listing", prepatient_a.pseudonym), ("switched_away", prepatient_a.pseudonym)]
    events_b = b.get("/api/v1/events/").json()["events"]
    assert [e["kind"] for e in events_b] == ["new_listing"]


def test_a_lab_may_report_for_any_consented_prepatient(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    response = personas.client("lab").post("/api/v1/lab/results/", upload(prepatient_a),
                                           format="json")
    assert response.status_code == 200
    stored = Measurement.objects.get()
    assert (stored.reporter_kind, stored.reporter) == ("lab", f"lab:{personas.lab.pk}")
    assert stored.prepatient == prepatient_a


def test_a_key_of_a_lab_that_lost_its_authorization_is_refused(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    personas.lab.is_authorized = False
    personas.lab.save()
    assert ENDPOINTS["lab_results"].call(personas, "lab", prepatient_a).status_code == 401
