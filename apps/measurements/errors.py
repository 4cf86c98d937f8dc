"""Refusals of the measurement rules and services, each with a code and a plain message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.core.errors import InvalidInput
from prevention_engine import units

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise


class MeasurementRefused(InvalidInput, ValueError):
    """A value that cannot be stored: ``code`` is one of the codes below.

    ``field`` names the input it is about (the type code unless the caller said
    otherwise); ``message`` is a lazy translation. It is a ``DomainError``, so the
    API renders it as ``{"error": {"code", "message", "fields": {field: [message]}}}``.
    """

    UNKNOWN_UNIT = units.UNKNOWN_UNIT
    OUT_OF_RANGE = units.OUT_OF_RANGE
    NOT_A_NUMBER = units.NOT_A_NUMBER

    def __init__(self, *, field: str, code: str, message: StrOrPromise) -> None:
        self.field = field
        super().__init__(message, code=code, fields={field: message})
