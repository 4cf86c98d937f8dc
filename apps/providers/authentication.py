"""Organisation keys for the API: ``Authorization: Api-Key <prefix>.<secret>``."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.providers.models import ApiCredential

KEYWORD = "Api-Key"


class OrganisationUser:
    """The authenticated party of an API call: an organisation, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, credential: ApiCredential) -> None:
        self.credential = credential
        self.provider = credential.provider

    @property
    def organisation_label(self) -> str:
        return f"provider:{self.provider.pk}"

    def __str__(self) -> str:
        return str(self.provider)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[OrganisationUser, ApiCredential] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(f"{KEYWORD} "):
            return None
        key = header[len(KEYWORD) + 1:].strip()
        prefix, _sep, secret = key.partition(".")
        credential = (
            ApiCredential.objects.select_related("provider").filter(prefix=prefix).first()
            if prefix and secret else None
        )
        if credential is None or not credential.matches(secret):
            raise exceptions.AuthenticationFailed(_("The API key is not valid."))
        if not credential.is_active:
            raise exceptions.AuthenticationFailed(_("The API key has been revoked."))
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
            "description": "`Api-Key <prefix>.<secret>`, issued by a caseworker.",
        }
