"""API keys as the providers app keeps them: one organisation per key, scopes of its
kind, stored hashed. How the API authenticates, checks scopes and throttles with
them is in ``tests/api/test_credentials.py``."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from apps.core.errors import InvalidInput
from apps.providers.models import LAB_SCOPES, PROVIDER_SCOPES, ApiCredential
from apps.providers.services import (
    api_credential_issue,
    api_credential_revoke,
    api_credentials_revoke,
)
from tests.providers.factories import LabFactory, ProviderFactory

pytestmark = pytest.mark.django_db


# --- One organisation per key ------------------------------------------------------


def test_a_key_belongs_to_exactly_one_organisation() -> None:
    provider, lab = ProviderFactory(), LabFactory()
    for kwargs in ({}, {"provider": provider, "lab": lab}):
        with pytest.raises(InvalidInput) as refused:
            api_credential_issue(label="x", **kwargs)
        assert refused.value.code == "one_organisation"
    rows: list[dict[str, Any]] = [{"provider": None, "lab": None},
                                  {"provider": provider, "lab": lab}]
    for kwargs in rows:
        with pytest.raises(IntegrityError), transaction.atomic():
            ApiCredential.objects.create(label="x", prefix="p" + str(len(kwargs)),
                                         secret_hash="0" * 64, **kwargs)


def test_keys_get_the_scopes_of_their_kind_unless_narrowed() -> None:
    provider_key, _k1 = api_credential_issue(provider=ProviderFactory(), label="a")
    lab_key, _k2 = api_credential_issue(lab=LabFactory(), label="b")
    narrow, _k3 = api_credential_issue(provider=ProviderFactory(), label="c",
                                      scopes=["settlement:read"])
    assert provider_key.scopes == [s.value for s in PROVIDER_SCOPES]
    assert sorted(lab_key.scopes) == sorted(s.value for s in LAB_SCOPES)
    assert narrow.scopes == ["settlement:read"]


@pytest.mark.parametrize("kind,scopes,code", [
    ("provider", ["lab:results"], "scope_not_allowed"),
    ("lab", ["prepatients:read"], "scope_not_allowed"),
    ("lab", ["settlement:read"], "scope_not_allowed"),
    ("provider", ["everything"], "scope_unknown"),
])
def test_scopes_of_the_other_kind_or_unknown_scopes_are_refused(
    kind: str, scopes: list[str], code: str,
) -> None:
    organisation: dict[str, Any] = {"provider": ProviderFactory()} if kind == "provider" else {
        "lab": LabFactory()}
    with pytest.raises(InvalidInput) as refused:
        api_credential_issue(label="key", scopes=scopes, **organisation)
    assert refused.value.code == code


def test_a_key_is_stored_hashed_and_shown_once() -> None:
    credential, key = api_credential_issue(provider=ProviderFactory(), label="integration",
                                           scopes=["prepatients:read"])
    prefix, secret = key.split(".")
    assert credential.prefix == prefix
    assert secret not in credential.secret_hash and len(credential.secret_hash) == 64
    assert credential.matches(secret) and not credential.matches(secret + "x")


# --- Revoking ------------------------------------------------------------------------


def test_revoking_a_selection_counts_only_the_keys_still_active() -> None:
    provider = ProviderFactory()
    active, _key = api_credential_issue(provider=provider, label="active")
    revoked, _key = api_credential_issue(provider=provider, label="revoked")
    api_credential_revoke(credential=revoked)
    selection = ApiCredential.objects.filter(pk__in=[active.pk, revoked.pk])
    assert api_credentials_revoke(credentials=selection) == 1
    active.refresh_from_db()
    assert active.revoked_at is not None
