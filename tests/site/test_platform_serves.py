"""What `make run` serves: health, back-office, API docs and the site."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_reports_the_database_ok(demo, client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"]["ok"] is True


def test_the_demo_caseworker_logs_in_to_the_admin(demo, client: Client, settings) -> None:
    settings.STAFF_MFA_REQUIRED = False  # as `make run` sets it
    response = client.post(
        "/accounts/login/?next=/admin/",
        {"login": "caseworker", "password": "demo-caseworker"},
        follow=True,
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200
    assert b"Programme" in page.content or b"Program" in page.content


def test_the_second_demo_caseworker_and_the_demo_prepatient_can_log_in(demo) -> None:
    for login, password in [("caseworker2", "demo-caseworker"),
                            ("prepatient@demo.invalid", "demo-prepatient")]:
        client = Client()
        response = client.post("/accounts/login/", {"login": login, "password": password})
        assert response.status_code == 302, login
        assert "_auth_user_id" in client.session


def test_load_demo_is_idempotent(demo) -> None:
    from django.core.management import call_command

    from apps.providers.models import Provider

    before = Provider.objects.count()
    call_command("load_demo", verbosity=0)
    assert Provider.objects.count() == before


def test_api_docs_and_schema_are_served(client: Client) -> None:
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/me/" in schema.json()["paths"]


def test_the_start_page_is_swedish_by_default_with_english_available(client: Client) -> None:
    swedish = client.get("/")
    assert swedish.status_code == 200
    assert b'lang="sv"' in swedish.content
    english = client.get("/en/")
    assert english.status_code == 200
    assert b'lang="en"' in english.content
    assert b"Get started" in english.content


def test_the_demo_has_prepatients_in_every_state(demo) -> None:
    from apps.registry.models import Prepatient, PrepatientState

    states = set(Prepatient.objects.values_list("state", flat=True))
    assert states == set(PrepatientState.values)
    assert Prepatient.objects.filter(research_consent=True).exists()
    assert Prepatient.objects.filter(listings__reason="switch").exists()
