"""Adapters to what lies outside the platform (population register, company
registers), chosen by a setting that names a class by its dotted path.

Each adapter is a real implementation behind a protocol (the file-backed ones
serve demos and tests); ``load_adapter`` builds one per backend and argument
and refuses a class that does not implement the protocol.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

T = TypeVar("T")


def load_adapter(*, backend_setting: str, default_backend: str, argument_setting: str,
                 argument_missing: str, protocol: type[T], protocol_needs: str) -> T:
    """The adapter the settings name, built with the setting ``argument_setting``
    (a path or a directory); ``protocol_needs`` says what a backend must offer."""
    backend = getattr(settings, backend_setting, None) or default_backend
    argument = getattr(settings, argument_setting, None)
    if not argument:
        raise ImproperlyConfigured(argument_missing)
    adapter = _build(backend, str(argument))
    if not isinstance(adapter, protocol):
        raise ImproperlyConfigured(f"{backend_setting}={backend!r} {protocol_needs}")
    return cast(T, adapter)


@lru_cache(maxsize=16)
def _build(backend: str, argument: str) -> Any:
    try:
        factory = import_string(backend)
    except ImportError as error:
        raise ImproperlyConfigured(f"{backend!r} cannot be imported: {error}") from error
    return factory(argument)
