"""Schemathesis against the in-process WSGI application, generated from our own schema.

Every operation is called with generated data and a valid key (a provider's,
or a laboratory's for the lab endpoints), with a prepatient of provider A
behind the schema's example programme ID. Checked: no server error, every
status code documented, the content type and the body as the schema says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.api.views import EXAMPLE_PSEUDONYM
from apps.registry.models import Prepatient
from prevention.wsgi import application
from tests.api.conftest import Personas

# The coverage phase (boundary and negative cases, not bounded by max_examples)
# makes some 900 cases of the lab results body (a oneOf of the plain batch and two
# nested FHIR resources), half a minute on its own: that operation gets the
# fuzzing phase (positive and negative data) and the FHIR tests in test_lab.py.
FUZZ_CONFIG = schemathesis.config.SchemathesisConfig.from_dict({"operations": [{
    "include-path": "/api/v1/lab/results/", "phases": {"coverage": {"enabled": False}},
}]})
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def wsgi_keeps_the_test_transaction() -> Iterator[None]:
    """The WSGI handler closes "old" connections around each request, which on
    PostgreSQL would close the test's transaction; Django's test client turns
    this off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db: Any, personas: Personas, enroll: Callable[..., Prepatient],
               settings: Any, wsgi_keeps_the_test_transaction: None) -> Any:
    settings.API_CREDENTIAL_RATE = "100000/min"
    prepatient = enroll(personas.provider_a)
    Prepatient.objects.filter(pk=prepatient.pk).update(pseudonym=EXAMPLE_PSEUDONYM)
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application,
                                          config=FUZZ_CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_no_operation_fails_or_breaks_its_schema(case: Any, personas: Personas) -> None:
    persona = "lab" if case.operation.path.startswith("/api/v1/lab/") else "provider_a"
    response = case.call(headers={"Authorization": f"Api-Key {personas.keys[persona]}"})
    case.validate_response(response, checks=CHECKS)
