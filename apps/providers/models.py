from __future__ import annotations

import hashlib
import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.core.models import TimeStampedModel
from apps.providers.validators import validate_organisation_number


class AuthorizationStatus(models.TextChoices):
    PENDING = "pending", _("Application pending")
    AUTHORIZED = "authorized", _("Authorized")
    SUSPENDED = "suspended", _("Suspended")
    REVOKED = "revoked", _("Revoked")
    REJECTED = "rejected", _("Rejected")


class Provider(TimeStampedModel):
    """An organisation delivering preventive support (utförare)."""

    name = models.CharField(_("name"), max_length=200)
    organisation_number = models.CharField(
        _("organisation number"), max_length=10, unique=True,
        validators=[validate_organisation_number],
        help_text=_("10 digits without a hyphen."),
    )
    authorization_status = models.CharField(
        _("authorization status"), max_length=16, choices=AuthorizationStatus.choices,
        default=AuthorizationStatus.PENDING, db_index=True,
    )

    class Meta:
        verbose_name = _("provider")
        verbose_name_plural = _("providers")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def is_authorized(self) -> bool:
        return self.authorization_status == AuthorizationStatus.AUTHORIZED


def _hash_secret(secret: str) -> str:
    # Keys are 256-bit random values: a fast hash is enough (no dictionary to guess).
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class ApiCredential(TimeStampedModel):
    """An organisation's API key: shown once, stored hashed, revocable."""

    provider = models.ForeignKey(
        Provider, verbose_name=_("provider"), on_delete=models.PROTECT,
        related_name="api_credentials",
    )
    label = models.CharField(_("label"), max_length=100)
    prefix = models.CharField(_("key prefix"), max_length=12, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API credential")
        verbose_name_plural = _("API credentials")

    def __str__(self) -> str:
        return f"{self.provider} — {self.label} ({self.prefix}…)"

    @classmethod
    def issue(cls, *, provider: Provider, label: str) -> tuple[ApiCredential, str]:
        """Creates a credential; returns it with the full key (never stored)."""
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        credential = cls.objects.create(
            provider=provider, label=label, prefix=prefix, secret_hash=_hash_secret(secret)
        )
        return credential, f"{prefix}.{secret}"

    def matches(self, secret: str) -> bool:
        return secrets.compare_digest(self.secret_hash, _hash_secret(secret))

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        self.revoked_at = clock.now()
        self.save(update_fields=["revoked_at"])
