"""The providers' readers: an organisation's API key (and whether it may be used), a
provider's event feed, its applications for authorization, and the authorized
providers and laboratories the marketplace and the way in show.

What a provider reads of its prepatients (follow-up, values, the dashboard) is
read by the app that owns that data (``apps.measurements.selectors``), through
the consent gate.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from apps.core.models import OrganisationEvent
from apps.programs.models import Programme
from apps.programs.selectors import programmes_with_a_published_version
from apps.providers.errors import (
    ApiKeyRefused,
    ApiKeyRevoked,
    LabNotAuthorized,
    ProviderKeysRefused,
)
from apps.providers.models import (
    ApiCredential,
    ApplicationStatus,
    AuthorizationApplication,
    AuthorizationDecision,
    AuthorizationStatus,
    Lab,
    ProgrammeOffer,
    Provider,
)

# Providers whose keys stop working: authorization taken away or never given after a loss.
PROVIDER_KEYS_REFUSED = (AuthorizationStatus.REVOKED, AuthorizationStatus.REJECTED)


def api_credential_for_prefix(prefix: str) -> ApiCredential | None:
    """The key with this prefix, its organisation loaded (None if there is none)."""
    return ApiCredential.objects.select_related("provider", "lab").filter(prefix=prefix).first()


def api_credential_refusal(credential: ApiCredential) -> ApiKeyRefused | None:
    """Why a known key may not be used now, or None when it may.

    A revoked key, a laboratory that is not authorized and a provider whose
    authorization is revoked or rejected are refused. A suspended provider's keys
    keep working: it still supports (and reports for) the people listed with it
    while they choose another provider.
    """
    if not credential.is_active:
        return ApiKeyRevoked()
    if credential.lab is not None and not credential.lab.is_authorized:
        return LabNotAuthorized()
    if (credential.provider is not None
            and credential.provider.authorization_status in PROVIDER_KEYS_REFUSED):
        return ProviderKeysRefused()
    return None


def provider_events(provider: Provider, *, after: int, limit: int) -> list[OrganisationEvent]:
    """The provider's event feed after the cursor ``after`` (an event id), oldest first."""
    return list(OrganisationEvent.objects
                .filter(organisation=f"provider:{provider.pk}", pk__gt=after)
                .order_by("pk")[:limit])


# --- Authorization ------------------------------------------------------------------


def authorization_application_latest(provider: Provider) -> AuthorizationApplication | None:
    """The provider's newest application, whatever its status."""
    return AuthorizationApplication.objects.filter(provider=provider).first()


def authorization_application_pending(provider: Provider) -> AuthorizationApplication | None:
    """The provider's application awaiting a decision (there is at most one)."""
    return (AuthorizationApplication.objects
            .filter(provider=provider, status=ApplicationStatus.PENDING).first())


def authorization_decision(pk: int) -> AuthorizationDecision:
    """One decision with its provider (``DoesNotExist`` when there is none)."""
    return AuthorizationDecision.objects.select_related("provider").get(pk=pk)


# --- Providers and laboratories as the site shows them ---------------------------------


def providers_authorized() -> QuerySet[Provider]:
    return Provider.objects.filter(authorization_status=AuthorizationStatus.AUTHORIZED)


def provider_get(*, pk: int) -> Provider | None:
    return Provider.objects.filter(pk=pk).first()


def labs_authorized() -> QuerySet[Lab]:
    return Lab.objects.filter(is_authorized=True).order_by("name")


def languages_offered() -> set[str]:
    """Every language some authorized provider offers (one small query)."""
    codes: set[str] = set()
    for row in providers_authorized().values_list("languages", flat=True):
        codes.update(code for code in (row or []) if isinstance(code, str))
    return codes


_JSON_LISTS = frozenset({"languages", "regions", "accessibility"})


def profile_list_has(field: str, value: str) -> Q:
    """The provider's JSON list ``field`` holds ``value``.

    PostgreSQL answers with jsonb containment; SQLite (first runs) with json_each.
    Only the profile's list fields are accepted; the value is always a parameter.
    """
    if field not in _JSON_LISTS:
        raise ValueError(f"not a list field of the profile: {field}")
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__contains": [value]})
    quote = connection.ops.quote_name
    column = f"{quote(Provider._meta.db_table)}.{quote(field)}"
    sql = f"EXISTS (SELECT 1 FROM json_each({column}) AS item WHERE item.value = %s)"  # noqa: S608
    return Q(RawSQL(sql, (value,), output_field=BooleanField()))  # noqa: S611


def offers_programme(provider: Provider, programme_id: int) -> bool:
    """Whether the provider offers its support in the programme."""
    return ProgrammeOffer.objects.filter(provider=provider, programme_id=programme_id).exists()


def programmes_not_offered(provider: Provider) -> list[Programme]:
    """The programmes that can be joined (a published version) the provider does not
    offer its support in yet: those it may apply for."""
    offered = set(ProgrammeOffer.objects.filter(provider=provider)
                  .values_list("programme_id", flat=True))
    return [programme for programme in programmes_with_a_published_version()
            if programme.pk not in offered]
