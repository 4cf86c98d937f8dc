from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.providers.services import api_credential_issue
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


def test_a_key_is_stored_hashed_and_authenticates_its_organisation() -> None:
    provider = ProviderFactory(name="Hälsa AB")
    credential, key = api_credential_issue(provider=provider, label="integration")
    assert key.split(".")[1] not in credential.secret_hash
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    response = client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["name"] == "Hälsa AB"
    assert response.json()["kind"] == "provider"


@pytest.mark.parametrize("header", [None, "Api-Key nope", "Api-Key abcd.wrong"])
def test_missing_or_wrong_keys_get_401_in_the_error_shape(header: str | None) -> None:
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_a_revoked_key_no_longer_works() -> None:
    credential, key = api_credential_issue(provider=ProviderFactory(), label="old")
    credential.revoke()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    response = client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The API key has been revoked."
    swedish = client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="sv")
    assert swedish.json()["error"]["message"] == "API-nyckeln har återkallats."
