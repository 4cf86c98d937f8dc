from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from apps.core.roles import caseworker_group
from tests.factories import UserFactory

# Registry builders (make_candidate, programme, consent_texts) for every app's tests.
pytest_plugins = ["tests.registry.builders"]


@pytest.fixture
def demo(db: Any) -> None:
    """The demo data exactly as `make run` loads it."""
    call_command("load_demo", verbosity=0)


@pytest.fixture
def caseworker(db: Any) -> Any:
    user = UserFactory(username="caseworker-a", is_staff=True)
    user.groups.add(caseworker_group())
    return user


@pytest.fixture
def caseworker_client(caseworker: Any, settings: Any) -> Client:
    settings.STAFF_MFA_REQUIRED = False
    client = Client()
    client.force_login(caseworker)
    return client
