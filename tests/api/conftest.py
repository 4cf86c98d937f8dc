"""Personas and prepatients for the API tests, set up through the real services.

The clock stands still on ``TODAY`` for every test here; prepatients are
enrolled on ``ENROLLED`` (so the baseline set, due 30 days later, is overdue).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.core import clock
from apps.providers.models import Lab, Provider
from apps.providers.services import api_credential_issue
from apps.registry.models import Prepatient
from apps.registry.services import prepatient_enroll
from tests.providers.factories import LabFactory, ProviderFactory

ENROLLED = date(2026, 8, 3)
TODAY = date(2026, 11, 2)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.travel_to(TODAY):
        yield


def client_for(key: str | None) -> APIClient:
    client = APIClient()
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_ACCEPT_LANGUAGE="en")
    return client


@dataclass
class Personas:
    provider_a: Provider
    provider_b: Provider
    lab: Lab
    keys: dict[str, str | None]

    def client(self, persona: str) -> APIClient:
        return client_for(self.keys[persona])


@pytest.fixture
def personas(db: Any) -> Personas:
    provider_a = ProviderFactory(name="Provider A")
    provider_b = ProviderFactory(name="Provider B")
    lab = LabFactory(name="Lab Syd")
    _a, key_a = api_credential_issue(provider=provider_a, label="A")
    _b, key_b = api_credential_issue(provider=provider_b, label="B")
    _l, key_lab = api_credential_issue(lab=lab, label="lab")
    revoked, key_revoked = api_credential_issue(provider=provider_a, label="old")
    revoked.revoke()
    _r, key_read_only = api_credential_issue(provider=provider_a, label="read",
                                            scopes=["prepatients:read"])
    _w, key_write_only = api_credential_issue(provider=provider_a, label="write",
                                             scopes=["measurements:write"])
    _lw, key_lab_write = api_credential_issue(lab=lab, label="lab write",
                                             scopes=["measurements:write"])
    return Personas(provider_a, provider_b, lab, keys={
        "provider_a": key_a, "provider_b": key_b, "lab": key_lab, "anonymous": None,
        "revoked": key_revoked, "read_only": key_read_only, "write_only": key_write_only,
        "lab_without_results_scope": key_lab_write,
    })


@pytest.fixture
def enroll(make_candidate: Callable[..., Prepatient]) -> Callable[..., Prepatient]:
    """``enroll(provider)``: a new prepatient enrolled with ``provider`` on ENROLLED
    (or ``on``)."""

    def build(provider: Provider, *, on: date = ENROLLED, **candidate: Any) -> Prepatient:
        with clock.travel_to(on):
            return prepatient_enroll(prepatient=make_candidate(**candidate), provider=provider)

    return build


@pytest.fixture
def prepatient_a(personas: Personas, enroll: Callable[..., Prepatient]) -> Prepatient:
    """Provider A's own prepatient."""
    return enroll(personas.provider_a)
