from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_json_with_database_and_broker(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"] == {"ok": True, "detail": "eager"}


def test_healthz_fails_with_503_when_the_broker_does_not_answer(client: Client,
                                                               settings) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["broker"]["ok"] is False
    assert body["database"]["ok"] is True


def test_healthz_checks_a_real_broker_when_one_is_configured(client: Client, settings) -> None:
    if not settings.TEST_BROKER_URL:
        pytest.skip("no broker configured (CI sets CELERY_BROKER_URL)")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = settings.TEST_BROKER_URL
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"] == {"ok": True, "detail": "ok"}
