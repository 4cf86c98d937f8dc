"""Encryption and lookup hashing of personal identifiers.

Encryption uses ``MultiFernet`` over ``FIELD_ENCRYPTION_KEYS`` (newest first),
so keys rotate: old ciphertexts still decrypt, new ones use the first key.
Lookups use an HMAC-SHA256 under a separate key (``PERSONNUMMER_HMAC_KEY``),
so equality search works without decrypting every row.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


def encrypt(plaintext: str) -> str:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS)).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS)).decrypt(token.encode()).decode()


def lookup_hash(value: str) -> str:
    """A keyed hash for equality lookups (hex, 64 characters)."""
    key = settings.PERSONNUMMER_HMAC_KEY.encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """Stores text encrypted at rest; Python code sees plaintext.

    Not searchable: store a ``lookup_hash`` beside it for lookups.
    """

    description = "Text encrypted with the field keys"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return None if value is None else decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value in (None, "") else encrypt(value)
