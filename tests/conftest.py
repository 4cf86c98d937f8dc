from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import translation
from hypothesis import settings as hypothesis_settings

from apps.core.roles import caseworker_group
from tests.factories import UserFactory

# The property tests check rules, not speed: on a busy machine one example may take
# longer than Hypothesis's default 200 ms deadline, which would fail a correct rule.
hypothesis_settings.register_profile("rules", deadline=None)
hypothesis_settings.load_profile("rules")

# Registry builders (make_candidate, programme, consent_texts) for every app's tests.
pytest_plugins = ["tests.registry.builders"]


@pytest.fixture(autouse=True)
def empty_cache() -> Any:
    """Each test starts with an empty cache (kept pages, rate limits)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def english_outside_requests() -> Any:
    """Messages built outside a request are read in English in the tests.

    Without this, the active language would depend on which test ran before
    (a request to an /en/ page leaves English active in the thread). Requests
    still choose their own language (URL prefix or Accept-Language), and tests
    of Swedish texts say so with ``translation.override("sv")``.
    """
    with translation.override("en"):
        yield


def ensure_reference_data() -> None:
    """The rows the data migrations create (the programme, the measurement types).

    A transactional test ends with a flush that removes them; tests that run
    after one call this to put them back exactly as the migrations make them.
    """
    from django.apps import apps

    from apps.measurements.models import MeasurementType
    from apps.programs.models import Programme

    if not Programme.objects.filter(code="prediabetes-2026").exists():
        importlib.import_module("apps.programs.migrations.0004_outcome_criteria").create_current(
            apps, None)
    importlib.import_module("apps.programs.migrations.0008_shipped_first_version") \
        .ship_first_version(apps, None)
    if not MeasurementType.objects.exists():
        importlib.import_module("apps.measurements.migrations.0002_measurement_types").create(
            apps, None)
    if not MeasurementType.objects.filter(code="steps").exists():
        importlib.import_module("apps.measurements.migrations.0004_programme_types").create(
            apps, None)


@pytest.fixture
def demo(db: Any) -> None:
    """The demo data exactly as `make run` loads it."""
    ensure_reference_data()
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
