"""Strict readers for settings taken from the environment.

django-environ parses URLs well, but its boolean and list casts accept any
value silently. The platform holds health data and money, so a misspelt
setting must stop the process at start-up with a message naming the variable,
never fall back to a default nobody asked for.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

BROKER_SCHEMES = {"redis", "rediss", "amqp", "amqps", "pyamqp", "filesystem", "memory"}
DATABASE_SCHEMES = {"postgres", "postgresql", "pgsql", "sqlite"}


class Env:
    """Reads typed values from a mapping (``os.environ`` by default)."""

    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self.source = os.environ if source is None else source

    def raw(self, name: str) -> str | None:
        value = self.source.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def string(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return default if value is None else value

    def required(self, name: str, why: str) -> str:
        value = self.raw(name)
        if value is None:
            raise ImproperlyConfigured(f"{name} must be set: {why}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a boolean: use one of "
            f"{', '.join(sorted(_TRUE | _FALSE))}"
        )

    def integer(self, name: str, default: int, *, minimum: int | None = None,
            maximum: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}")
        if maximum is not None and number > maximum:
            raise ImproperlyConfigured(f"{name}={number} is above the maximum {maximum}")
        return number

    def strings(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self.raw(name)
        if value is None:
            return list(default or [])
        items = [item.strip() for item in value.split(",")]
        if any(item == "" for item in items):
            raise ImproperlyConfigured(f"{name}={value!r} has an empty item in its list")
        return items

    def database(self, name: str, default_sqlite_path: str) -> dict[str, Any]:
        value = self.raw(name)
        if value is None:
            return {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": default_sqlite_path,
            }
        scheme = urlsplit(value).scheme
        if scheme not in DATABASE_SCHEMES:
            raise ImproperlyConfigured(
                f"{name} has the scheme {scheme!r}; use postgres:// (or sqlite:// for a "
                "local first run)"
            )
        try:
            config: dict[str, Any] = environ.Env.db_url_config(value)
        except Exception as exc:  # django-environ raises several kinds
            raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
        if scheme != "sqlite" and not config.get("NAME"):
            raise ImproperlyConfigured(f"{name} names no database (the path after the host)")
        return config

    def broker(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        scheme = urlsplit(value).scheme
        if scheme not in BROKER_SCHEMES:
            raise ImproperlyConfigured(
                f"{name} has the scheme {scheme!r}; use one of {', '.join(sorted(BROKER_SCHEMES))}"
            )
        return value

    def fernet_keys(self, name: str, fallback: list[str] | None) -> list[str]:
        """A comma-separated list of Fernet keys, newest first (for MultiFernet)."""
        value = self.raw(name)
        if value is None:
            if fallback is None:
                raise ImproperlyConfigured(
                    f"{name} must be set when DEBUG is off: a comma-separated list of "
                    "Fernet keys, newest first"
                )
            return fallback
        keys = self.strings(name)
        for position, key in enumerate(keys):
            if not _is_fernet_key(key):
                raise ImproperlyConfigured(
                    f"{name}: key {position + 1} is not a Fernet key (32 url-safe "
                    "base64-encoded bytes)"
                )
        return keys

    def secret(self, name: str, fallback: str | None, *, min_length: int = 32) -> str:
        value = self.raw(name)
        if value is None:
            if fallback is None:
                raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")
            return fallback
        if len(value) < min_length:
            raise ImproperlyConfigured(f"{name} is too short: use at least {min_length} characters")
        return value


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False


def dev_fernet_key(label: str) -> str:
    """A fixed, public key for DEBUG runs only: never protects real data."""
    raw = (label.encode("ascii") * 32)[:32]
    return base64.urlsafe_b64encode(raw).decode("ascii")
