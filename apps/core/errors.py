"""Typed domain errors.

A service raises a subclass of ``DomainError`` with a stable ``code`` (for
programs) and a ``message`` a person understands (translated). The API turns
every one into the same shape: ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code: ClassVar[str] = "domain_error"
    default_message: ClassVar[Any] = _("The request could not be carried out.")
    http_status: ClassVar[int] = 400

    def __init__(
        self,
        message: Any = None,
        *,
        code: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.fields: dict[str, Any] = dict(fields or {})
        super().__init__(str(self.message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": str(self.message),
                "fields": {key: _as_list(value) for key, value in self.fields.items()},
            }
        }


class NotFound(DomainError):
    code = "not_found"
    default_message = _("Not found.")
    http_status = 404


class PermissionDenied(DomainError):
    code = "permission_denied"
    default_message = _("You do not have permission to do this.")
    http_status = 403


class InvalidInput(DomainError):
    code = "invalid"
    default_message = _("Some of the data is not valid.")


class Conflict(DomainError):
    code = "conflict"
    default_message = _("The request conflicts with the current state.")
    http_status = 409


class ReasonRequired(InvalidInput):
    """A decision that is kept in a record's history needs its free-text reason."""

    code = "reason_required"
    default_message = _("Please give a reason.")


def require_reason(text: str | None) -> str:
    """The reason without surrounding blanks; ``ReasonRequired`` (field ``reason``) if
    nothing is left."""
    text = (text or "").strip()
    if not text:
        raise ReasonRequired(fields={"reason": _("Please give a reason.")})
    return text


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [str(value)]
