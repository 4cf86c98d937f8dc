"""Whether a known API key may be used (``selectors.api_credential_refusal``), and the
status a laboratory shows. How the API answers a refused key (401 with the message)
is in ``tests/api/test_credentials.py``."""

from __future__ import annotations

import pytest

from apps.core.errors import DomainError
from apps.providers.errors import (
    ApiKeyRefused,
    ApiKeyRevoked,
    LabNotAuthorized,
    ProviderKeysRefused,
)
from apps.providers.models import AuthorizationStatus
from apps.providers.selectors import api_credential_for_prefix, api_credential_refusal
from apps.providers.services import api_credential_issue
from tests.providers.factories import LabFactory, ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("status", "refused"), [
    (AuthorizationStatus.PENDING, None),
    (AuthorizationStatus.AUTHORIZED, None),
    (AuthorizationStatus.SUSPENDED, None),  # still supports the people listed with it
    (AuthorizationStatus.REVOKED, ProviderKeysRefused),
    (AuthorizationStatus.REJECTED, ProviderKeysRefused),
])
def test_a_provider_s_keys_stop_working_when_its_authorization_is_revoked_or_rejected(
    status: str, refused: type[ApiKeyRefused] | None,
) -> None:
    credential, _key = api_credential_issue(
        provider=ProviderFactory(authorization_status=status), label="k")
    refusal = api_credential_refusal(credential)
    assert (type(refusal) if refusal is not None else None) is refused


def test_a_laboratory_s_keys_work_only_while_it_is_authorized() -> None:
    lab = LabFactory()
    credential, _key = api_credential_issue(lab=lab, label="k")
    assert api_credential_refusal(credential) is None
    lab.is_authorized = False
    lab.save()
    loaded = api_credential_for_prefix(credential.prefix)
    assert loaded is not None
    assert isinstance(api_credential_refusal(loaded), LabNotAuthorized)


def test_a_revoked_key_is_refused_whatever_its_organisation() -> None:
    for kwargs in ({"provider": ProviderFactory(
                        authorization_status=AuthorizationStatus.REVOKED)},
                   {"lab": LabFactory(is_authorized=False)}):
        credential, _key = api_credential_issue(label="k", **kwargs)
        credential.revoke()
        assert isinstance(api_credential_refusal(credential), ApiKeyRevoked)


@pytest.mark.parametrize(("refusal", "code", "message"), [
    (ApiKeyRevoked(), "api_key_revoked", "The API key has been revoked."),
    (LabNotAuthorized(), "lab_not_authorized", "The laboratory is not authorized."),
    (ProviderKeysRefused(), "provider_keys_refused",
     "The provider's authorization is revoked; its API keys no longer work."),
])
def test_each_refusal_has_its_code_and_message(refusal: ApiKeyRefused, code: str,
                                               message: str) -> None:
    assert isinstance(refusal, DomainError)
    assert (refusal.code, str(refusal.message), refusal.http_status) == (code, message, 401)


def test_a_laboratory_s_authorization_status() -> None:
    assert LabFactory().authorization_status == "authorized"
    assert LabFactory(is_authorized=False).authorization_status == "not_authorized"
