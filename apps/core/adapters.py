"""Adapters to what lies outside the platform (population register, company
registers), chosen by a setting that names a class by its dotted path.

Each adapter is a real implementation behind a protocol (the file-backed ones
serve demos and tests); ``load_adapter`` builds one per backend and argument
and refuses a class that does not implement the protocol.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
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


R = TypeVar("R")


def read_register_file(path: Path, *, register: str, setting: str,
                       parse: Callable[[Iterable[str]], R]) -> R:
    """A file-backed register read by ``parse``; a missing or unreadable file is a
    configuration error naming the register and the setting. The error names only the
    kind of failure: its text could quote the file's content (personal data)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return parse(handle)
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"{register} {path}: the file does not exist (set {setting})") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ImproperlyConfigured(
            f"{register} {path}: the file cannot be read ({type(error).__name__})") from None
