"""Organisation keys for the API: ``Authorization: Api-Key <prefix>.<secret>``.

A key belongs to one organisation, a provider or a laboratory, and carries
scopes; ``apps.providers.permissions.HasScope`` checks them per view.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.core import clock
from apps.providers.models import ApiCredential, AuthorizationStatus, Lab, Provider

KEYWORD = "Api-Key"
# ``last_used_at`` is written at most this often per key (one UPDATE, not one per call).
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Providers whose keys stop working: authorization taken away or never given after a loss.
KEYS_REFUSED = (AuthorizationStatus.REVOKED, AuthorizationStatus.REJECTED)


class OrganisationUser:
    """The authenticated party of an API call: an organisation, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, credential: ApiCredential) -> None:
        self.credential = credential
        self.provider: Provider | None = credential.provider
        self.lab: Lab | None = credential.lab
        self.scopes: frozenset[str] = frozenset(credential.scopes or ())

    @property
    def kind(self) -> str:
        """``provider`` or ``lab``."""
        return "provider" if self.provider is not None else "lab"

    @property
    def organisation(self) -> Provider | Lab:
        return self.credential.organisation

    @property
    def organisation_label(self) -> str:
        """``provider:<id>`` or ``lab:<id>`` (the access log's and feeds' name for it)."""
        return self.credential.organisation_label

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def __str__(self) -> str:
        return str(self.organisation)


def _touch(credential: ApiCredential) -> None:
    now = clock.now()
    if credential.last_used_at is not None and now - credential.last_used_at < (
            LAST_USED_RESOLUTION):
        return
    ApiCredential.objects.filter(pk=credential.pk).update(last_used_at=now)
    credential.last_used_at = now


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[OrganisationUser, ApiCredential] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(f"{KEYWORD} "):
            return None
        key = header[len(KEYWORD) + 1:].strip()
        prefix, _sep, secret = key.partition(".")
        credential = (
            ApiCredential.objects.select_related("provider", "lab").filter(prefix=prefix).first()
            if prefix and secret else None
        )
        if credential is None or not credential.matches(secret):
            raise exceptions.AuthenticationFailed(_("The API key is not valid."))
        if not credential.is_active:
            raise exceptions.AuthenticationFailed(_("The API key has been revoked."))
        if credential.lab is not None and not credential.lab.is_authorized:
            raise exceptions.AuthenticationFailed(_("The laboratory is not authorized."))
        if credential.provider is not None and (
                credential.provider.authorization_status in KEYS_REFUSED):
            # A suspended provider keeps supporting (and reporting for) the people still
            # listed with it while they choose; a revoked or rejected one sees nothing.
            raise exceptions.AuthenticationFailed(
                _("The provider's authorization is revoked; its API keys no longer work."))
        _touch(credential)
        return OrganisationUser(credential), credential

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.providers.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <prefix>.<secret>`, issued by a caseworker for one "
                           "organisation (provider or laboratory) with scopes.",
        }
