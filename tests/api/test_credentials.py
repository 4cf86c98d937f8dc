"""API keys in use: authentication (``apps.api.authentication``), scopes enforced
(``apps.api.permissions``) and the rate limit per key (``apps.api.throttling``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from apps.api.authentication import OrganisationUser
from apps.api.permissions import HasScope
from apps.core import clock
from apps.providers.models import LAB_SCOPES, Scope
from apps.providers.services import api_credential_issue, api_credential_revoke
from tests.factories import UserFactory
from tests.providers.factories import LabFactory, ProviderFactory

pytestmark = pytest.mark.django_db


class WriteMeasurements(APIView):
    permission_classes = [HasScope.of("measurements:write")]

    def post(self, request: Request) -> Response:
        user: OrganisationUser = request.user  # type: ignore[assignment]
        return Response({"organisation": user.organisation_label})


class ReadSettlement(APIView):
    permission_classes = [HasScope]
    required_scope = "settlement:read"

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class NoScopeNamed(APIView):
    permission_classes = [HasScope]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


def call(view: type[APIView], key: str | None = None, method: str = "get") -> Response:
    factory = APIRequestFactory()
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {key}"} if key else {}
    request = getattr(factory, method)("/scoped/", **headers)
    return view.as_view()(request)


def client_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


# --- Who am I ----------------------------------------------------------------------


def test_a_lab_key_says_it_is_a_lab() -> None:
    lab = LabFactory(name="Karolinska Labbet")
    _credential, key = api_credential_issue(lab=lab, label="lis", scopes=["lab:results"])
    body = client_for(key).get("/api/v1/me/").json()
    assert body == {"kind": "lab", "id": lab.pk, "name": "Karolinska Labbet",
                    "organisation_number": lab.organisation_number,
                    "authorization_status": "authorized", "scopes": ["lab:results"]}


def test_a_provider_key_says_it_is_a_provider_with_its_scopes() -> None:
    provider = ProviderFactory()
    _credential, key = api_credential_issue(provider=provider, label="x",
                                            scopes=["settlement:read", "prepatients:read"])
    body = client_for(key).get("/api/v1/me/").json()
    assert (body["kind"], body["id"], body["authorization_status"], body["scopes"]) == (
        "provider", provider.pk, "authorized", ["prepatients:read", "settlement:read"])


def test_the_organisation_user_names_its_organisation() -> None:
    lab = LabFactory()
    credential, _key = api_credential_issue(lab=lab, label="x")
    user = OrganisationUser(credential)
    assert (user.provider, user.lab, user.kind) == (None, lab, "lab")
    assert user.organisation_label == f"lab:{lab.pk}"
    assert user.scopes == frozenset(LAB_SCOPES)


def test_a_lab_that_is_not_authorized_cannot_use_its_keys() -> None:
    lab = LabFactory(is_authorized=False)
    _credential, key = api_credential_issue(lab=lab, label="x")
    response = client_for(key).get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The laboratory is not authorized."


def test_using_a_key_records_when_it_was_last_used() -> None:
    credential, key = api_credential_issue(provider=ProviderFactory(), label="x")
    assert credential.last_used_at is None
    moment = clock.now().replace(microsecond=0)
    with clock.travel_to(moment):
        client_for(key).get("/api/v1/me/")
    credential.refresh_from_db()
    assert credential.last_used_at == moment
    with clock.travel_to(moment + timedelta(seconds=30)):
        client_for(key).get("/api/v1/me/")
    credential.refresh_from_db()
    assert credential.last_used_at == moment  # at most once a minute


# --- Scopes enforced ---------------------------------------------------------------


def test_a_view_requiring_a_scope_admits_a_key_that_has_it() -> None:
    lab = LabFactory()
    _credential, key = api_credential_issue(lab=lab, label="x", scopes=["measurements:write"])
    response = call(WriteMeasurements, key, method="post")
    assert response.status_code == 200
    assert response.data == {"organisation": f"lab:{lab.pk}"}


def test_a_key_without_the_scope_gets_403_in_the_error_shape() -> None:
    _credential, key = api_credential_issue(provider=ProviderFactory(), label="x",
                                           scopes=["prepatients:read"])
    response = call(WriteMeasurements, key, method="post")
    assert response.status_code == 403
    assert response.data["error"]["code"] == "missing_scope"
    assert "measurements:write" in response.data["error"]["message"]


def test_the_scope_may_be_named_on_the_view() -> None:
    _c1, with_scope = api_credential_issue(provider=ProviderFactory(), label="x",
                                          scopes=["settlement:read"])
    _c2, without = api_credential_issue(provider=ProviderFactory(), label="y",
                                       scopes=["prepatients:read"])
    assert call(ReadSettlement, with_scope).status_code == 200
    assert call(ReadSettlement, without).status_code == 403


def test_a_view_that_names_no_scope_refuses_every_key() -> None:
    _credential, key = api_credential_issue(provider=ProviderFactory(), label="x")
    assert call(NoScopeNamed, key).status_code == 403


def test_a_person_signed_in_is_not_an_organisation() -> None:
    request = APIRequestFactory().get("/scoped/")
    from rest_framework.test import force_authenticate

    force_authenticate(request, user=UserFactory(is_staff=True))
    assert ReadSettlement.as_view()(request).status_code == 403


def test_an_unknown_scope_is_a_programming_error_at_import() -> None:
    with pytest.raises(ValueError, match="Unknown API scopes: measurement:write"):
        HasScope.of("measurement:write")
    assert set(Scope.values) == {"prepatients:read", "measurements:write", "settlement:read",
                                 "settlement:dispute", "lab:results"}


def test_a_revoked_key_is_refused_even_with_the_scope() -> None:
    credential, key = api_credential_issue(lab=LabFactory(), label="x")
    api_credential_revoke(credential=credential)
    response = call(WriteMeasurements, key, method="post")
    assert response.status_code == 401
    credential.refresh_from_db()
    revoked_at = credential.revoked_at
    assert revoked_at is not None
    api_credential_revoke(credential=credential)  # revoking twice changes nothing
    credential.refresh_from_db()
    assert credential.revoked_at == revoked_at


# --- Throttling per key ------------------------------------------------------------


@pytest.fixture
def tiny_rate(settings):
    settings.API_CREDENTIAL_RATE = "2/min"
    cache.clear()
    yield
    cache.clear()


def test_each_key_has_its_own_rate_limit(tiny_rate) -> None:
    provider = ProviderFactory()
    _c1, first = api_credential_issue(provider=provider, label="one")
    _c2, second = api_credential_issue(provider=provider, label="two")
    one, two = client_for(first), client_for(second)
    assert [one.get("/api/v1/me/").status_code for _ in range(2)] == [200, 200]
    limited = one.get("/api/v1/me/")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "throttled"
    assert "Retry-After" in limited.headers
    # The same organisation's other key is not held back by the first one's use.
    assert [two.get("/api/v1/me/").status_code for _ in range(2)] == [200, 200]
    assert two.get("/api/v1/me/").status_code == 429


def test_a_bad_rate_setting_fails_loudly(settings) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from apps.api.throttling import CredentialRateThrottle

    settings.API_CREDENTIAL_RATE = "lots"
    with pytest.raises(ImproperlyConfigured, match="API_CREDENTIAL_RATE"):
        CredentialRateThrottle()
