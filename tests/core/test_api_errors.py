from __future__ import annotations

from rest_framework import exceptions

from apps.core.api import exception_handler
from apps.core.errors import Conflict, DomainError


class EnrollmentClosed(DomainError):
    code = "enrollment_closed"
    default_message = "Recruitment has closed."
    http_status = 409


def test_a_domain_error_becomes_the_one_error_shape() -> None:
    response = exception_handler(EnrollmentClosed(fields={"programme": "closed"}), {})
    assert response is not None
    assert response.status_code == 409
    assert response.data == {"error": {"code": "enrollment_closed",
                                       "message": "Recruitment has closed.",
                                       "fields": {"programme": ["closed"]}}}


def test_a_domain_error_may_override_its_code_and_message() -> None:
    error = Conflict("Already listed.", code="already_listed")
    assert error.as_dict()["error"]["code"] == "already_listed"
    assert str(error) == "Already listed."


def test_validation_errors_name_each_field_by_its_path() -> None:
    detail = {"items": [{}, {"value": ["Must be below 200."]}], "unit": ["Unknown unit."]}
    response = exception_handler(exceptions.ValidationError(detail), {})
    assert response is not None and response.status_code == 400
    error = response.data["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {"items[1].value": ["Must be below 200."],
                               "unit": ["Unknown unit."]}


def test_authentication_errors_keep_their_status_and_code() -> None:
    response = exception_handler(exceptions.NotAuthenticated(), {})
    assert response is not None and response.status_code == 401
    assert response.data["error"]["code"] == "not_authenticated"
    assert response.data["error"]["fields"] == {}
