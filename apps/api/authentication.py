"""Organisation keys for the API: ``Authorization: Api-Key <prefix>.<secret>``.

A key belongs to one organisation, a provider or a laboratory, and carries
scopes; ``apps.api.permissions.HasScope`` checks them per view. The key is
looked up, and whether it may be used decided, by ``apps.providers.selectors``;
its last use is recorded by ``apps.providers.services`` (the API reads and writes
through them).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.providers.models import ApiCredential, Lab, Provider
from apps.providers.selectors import api_credential_for_prefix, api_credential_refusal
from apps.providers.services import api_credential_touch

KEYWORD = "Api-Key"


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


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[OrganisationUser, ApiCredential] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(f"{KEYWORD} "):
            return None
        key = header[len(KEYWORD) + 1:].strip()
        prefix, _sep, secret = key.partition(".")
        credential = api_credential_for_prefix(prefix) if prefix and secret else None
        if credential is None or not credential.matches(secret):
            raise exceptions.AuthenticationFailed(_("The API key is not valid."))
        refusal = api_credential_refusal(credential)
        if refusal is not None:
            raise exceptions.AuthenticationFailed(str(refusal.message))
        api_credential_touch(credential=credential)
        return OrganisationUser(credential), credential

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <prefix>.<secret>`, issued by a caseworker for one "
                           "organisation (provider or laboratory) with scopes.",
        }
