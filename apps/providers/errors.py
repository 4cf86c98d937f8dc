"""Refusals of the authorization services, each with a code and a plain message."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, DomainError, NotFound


class DecisionNotAllowed(Conflict):
    """The decision does not apply to the provider's or application's current status."""

    code = "decision_not_allowed"
    default_message = _("This decision is not possible in the provider's current status.")


class ApplicationNotPending(DecisionNotAllowed):
    code = "application_not_pending"
    default_message = _("Only a pending application can be decided on or checked.")


class ApplicationAlreadyPending(Conflict):
    code = "application_already_pending"
    default_message = _("The provider already has a pending application.")


class AlreadyAuthorized(Conflict):
    code = "already_authorized"
    default_message = _("The provider is already authorized (or suspended): it does not "
                        "need to apply.")


class DeclarationsIncomplete(Conflict):
    code = "declarations_incomplete"
    default_message = _("The application cannot be approved: not every declaration is made.")


class ChecksNotRun(Conflict):
    code = "checks_not_run"
    default_message = _("Run the automated checks before approving the application.")


class ChecksFailed(Conflict):
    code = "checks_failed"
    default_message = _("The application cannot be approved: an automated check found a "
                        "ground for exclusion.")


class ApplicationNotFound(NotFound):
    code = "application_not_found"
    default_message = _("The provider has no such application.")


# --- API keys ---------------------------------------------------------------------------


class ApiKeyRefused(DomainError):
    """A known API key that may not be used now (``selectors.api_credential_refusal``);
    the API answers 401 with the message."""

    code = "api_key_refused"
    default_message = _("The API key cannot be used.")
    http_status = 401


class ApiKeyRevoked(ApiKeyRefused):
    code = "api_key_revoked"
    default_message = _("The API key has been revoked.")


class LabNotAuthorized(ApiKeyRefused):
    code = "lab_not_authorized"
    default_message = _("The laboratory is not authorized.")


class ProviderKeysRefused(ApiKeyRefused):
    """The provider's authorization was revoked, or never given after it was lost."""

    code = "provider_keys_refused"
    default_message = _("The provider's authorization is revoked; its API keys no longer "
                        "work.")
