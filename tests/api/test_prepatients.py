"""Reading one's prepatients: pseudonyms only, follow-up figures, filters, paging."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from apps.registry.models import Prepatient
from prevention_engine.dates import switch_window_end
from tests.api.conftest import ENROLLED, TODAY, Personas

pytestmark = pytest.mark.django_db

IDENTIFYING = {"personnummer", "personnummer_hash", "birth_date", "name", "sex", "postcode",
               "user", "email"}


def test_the_list_names_prepatients_by_programme_id_with_their_follow_up_figures(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    response = personas.client("provider_a").get("/api/v1/prepatients/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert not IDENTIFYING & set(row)
    assert row["pseudonym"] == prepatient_a.pseudonym
    assert row["programme"] == "prediabetes-2026"
    assert row["state"] == "active"
    assert row["enrolled_on"] == ENROLLED.isoformat()
    assert row["end_date"] == date(2028, 8, 3).isoformat()
    assert row["switch_window_end"] == switch_window_end(
        ENROLLED, 18).isoformat() == "2028-02-03"
    # The baseline set was due 30 days after enrollment and is still incomplete.
    assert row["overdue"] is True
    assert row["baseline_complete"] is False
    assert row["next_due"] == "2026-11-03"  # the first quarterly set
    assert row["safety_notice_open"] is False


def test_the_overdue_filter(personas: Personas, prepatient_a: Prepatient,
                            enroll: Callable[..., Prepatient]) -> None:
    on_time = enroll(personas.provider_a, on=TODAY)
    client = personas.client("provider_a")
    overdue = client.get("/api/v1/prepatients/?overdue=true").json()["results"]
    assert [r["pseudonym"] for r in overdue] == [prepatient_a.pseudonym]
    on_schedule = client.get("/api/v1/prepatients/?overdue=false").json()["results"]
    assert [r["pseudonym"] for r in on_schedule] == [on_time.pseudonym]
    assert len(client.get("/api/v1/prepatients/").json()["results"]) == 2
    bad = client.get("/api/v1/prepatients/?overdue=perhaps")
    assert bad.status_code == 400
    assert "overdue" in bad.json()["error"]["fields"]


def test_the_list_pages_with_a_cursor_and_logs_each_page(
    personas: Personas, enroll: Callable[..., Prepatient],
) -> None:
    from apps.core.models import AccessLogEntry

    enrolled = {enroll(personas.provider_a).pseudonym for _ in range(3)}
    client = personas.client("provider_a")
    first = client.get("/api/v1/prepatients/?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    assert {r["pseudonym"] for r in first["results"] + second["results"]} == enrolled
    assert AccessLogEntry.objects.filter(what="api prepatient list").count() == 3
    assert client.get("/api/v1/prepatients/?cursor=garbage").status_code == 404


def test_the_detail_has_the_follow_up_schedule(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    response = personas.client("provider_a").get(
        f"/api/v1/prepatients/{prepatient_a.pseudonym}/")
    assert response.status_code == 200
    body = response.json()
    assert not IDENTIFYING & set(body)
    baseline, first = body["followups"][:2]
    assert baseline == {
        "index": 0, "due_on": "2026-09-02", "window_start": "2026-08-03",
        "window_end": "2026-09-02", "complete": False, "overdue": True,
        "missing": sorted(["bmi", "cholesterol_total", "findrisc", "hba1c", "hdl", "ldl",
                           "triglycerides"]),
    }
    assert (first["index"], first["due_on"], first["overdue"]) == (1, "2026-11-03", False)
    assert len(body["followups"]) == 9  # baseline + 8 quarterly sets over 24 months


def test_overdue_lists_each_missed_due_date(
    personas: Personas, prepatient_a: Prepatient, enroll: Callable[..., Prepatient],
) -> None:
    enroll(personas.provider_a, on=TODAY)  # nothing due yet
    enroll(personas.provider_b)  # someone else's
    response = personas.client("provider_a").get("/api/v1/overdue/")
    assert response.status_code == 200
    assert response.json()["results"] == [{
        "prepatient": prepatient_a.pseudonym, "index": 0, "due_on": "2026-09-02",
        "window_start": "2026-08-03", "window_end": "2026-09-02", "days_overdue": 61,
    }]


@pytest.mark.parametrize(("status", "allowed"), [
    ("suspended", True), ("revoked", False), ("rejected", False), ("pending", True)])
def test_a_providers_keys_follow_its_authorization(
    personas: Personas, prepatient_a: Prepatient, status: str, allowed: bool,
) -> None:
    """Suspended: it keeps supporting the people still listed with it while they choose.
    Revoked or rejected: the keys stop working at once."""
    from apps.providers.models import Provider

    Provider.objects.filter(pk=personas.provider_a.pk).update(authorization_status=status)
    response = personas.client("provider_a").get("/api/v1/prepatients/")
    if allowed:
        assert response.status_code == 200
        assert [row["pseudonym"] for row in response.json()["results"]] == [
            prepatient_a.pseudonym]
    else:
        assert response.status_code == 401
        assert response.json()["error"]["message"] == (
            "The provider's authorization is revoked; its API keys no longer work.")


def test_questionnaire_responses_come_as_a_fhir_bundle_to_the_listed_provider_only(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    from apps.core.models import AccessLogEntry
    from apps.registry.models import QuestionnaireResponse

    path = f"/api/v1/prepatients/{prepatient_a.pseudonym}/questionnaire-responses/"
    response = personas.client("provider_a").get(path)
    assert response.status_code == 200
    bundle = response.json()
    stored = list(QuestionnaireResponse.objects.filter(prepatient=prepatient_a))
    assert stored, "the candidate answered the programme's screening questionnaire"
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == (
        "Bundle", "searchset", len(stored))
    resource = bundle["entry"][0]["resource"]
    assert resource["resourceType"] == "QuestionnaireResponse"
    assert resource["subject"]["identifier"] == {"system": "urn:prevention:programme-id",
                                                 "value": prepatient_a.pseudonym}
    assert resource["questionnaire"] == (f"urn:prevention:questionnaire:"
                                         f"{stored[0].questionnaire.code}|"
                                         f"{stored[0].questionnaire.version}")
    assert resource["extension"][0]["valueInteger"] == stored[0].score
    assert not IDENTIFYING & set(resource)
    assert prepatient_a.personnummer not in response.content.decode()
    assert AccessLogEntry.objects.filter(what="api questionnaire responses").count() == 1
    # Another provider does not see the person at all.
    assert personas.client("provider_b").get(path).status_code == 404
