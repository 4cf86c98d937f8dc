"""The API's one error shape: ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import DomainError


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as ``{"items[3].value": ["message"]}``."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            fields.update(_flatten(value, path))
    elif isinstance(detail, list) and detail and all(isinstance(d, dict | list) for d in detail):
        for index, value in enumerate(detail):
            fields.update(_flatten(value, f"{prefix}[{index}]"))
    elif isinstance(detail, list):
        fields[prefix or "non_field_errors"] = [str(d) for d in detail]
    else:
        fields[prefix or "non_field_errors"] = [str(detail)]
    return fields


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        code, message = "invalid", _("Some of the data is not valid.")
        fields = _flatten(exc.detail)
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        message, fields = str(exc.detail), {}
    response.data = {"error": {"code": code, "message": message, "fields": fields}}
    return response


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable code for programs, e.g. `not_found`.")
    message = serializers.CharField(help_text="A message a person understands.")
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per-field messages, keyed by the field's path.",
    )


class ErrorSerializer(serializers.Serializer):
    """The shape of every error response, for the OpenAPI schema."""

    error = ErrorBodySerializer()
