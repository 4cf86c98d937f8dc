"""The OpenAPI schema: valid, free of warnings, and covering every endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

EXPECTED_OPERATIONS = {
    ("get", "/api/v1/me/"),
    ("get", "/api/v1/prepatients/"),
    ("get", "/api/v1/prepatients/{pseudonym}/"),
    ("get", "/api/v1/prepatients/{pseudonym}/measurements/"),
    ("get", "/api/v1/prepatients/{pseudonym}/questionnaire-responses/"),
    ("post", "/api/v1/measurements/"),
    ("get", "/api/v1/events/"),
    ("get", "/api/v1/overdue/"),
    ("get", "/api/v1/dashboard/"),
    ("post", "/api/v1/lab/referral-results/"),
    ("post", "/api/v1/lab/results/"),
    ("get", "/api/v1/settlements/"),
    ("get", "/api/v1/settlements/{run_id}/lines/"),
    ("get", "/api/v1/settlements/disputes/"),
    ("post", "/api/v1/settlements/{run_id}/lines/{pseudonym}/disputes/"),
}


def test_the_schema_validates_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json",
                 "--file", str(target))
    schema = json.loads(target.read_text())
    operations = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert operations == EXPECTED_OPERATIONS
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"401", "429"} <= set(responses), (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith(("/Error", "/BatchRefused")), (method, path, status)


def test_lab_endpoints_accept_fhir_json(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(target))
    schema = json.loads(target.read_text())
    for path in ("/api/v1/lab/results/", "/api/v1/lab/referral-results/"):
        content = schema["paths"][path]["post"]["requestBody"]["content"]
        assert {"application/json", "application/fhir+json"} <= set(content)


@pytest.mark.django_db
def test_the_docs_page_is_served_without_a_cdn() -> None:
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert b"/api/schema/" in response.content
    assert b"cdn." not in response.content
