"""Refusals of the registry services, each with a code and a plain message."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, DomainError, InvalidInput, NotFound


class InclusionRefused(DomainError):
    """Carries the rule's decision: its reason is the code, its message is shown."""

    code = "inclusion_refused"
    http_status = 409

    def __init__(self, decision: Any) -> None:
        self.decision = decision
        super().__init__(decision.message, code=decision.reason)


class ProviderNotAuthorized(Conflict):
    code = "provider_not_authorized"
    default_message = _("This provider is not authorized at the moment. Please choose another.")


class ProviderNotInProgramme(Conflict):
    code = "provider_not_in_programme"
    default_message = _("This provider does not offer support in this programme. Please "
                        "choose another.")


class SwitchNotAllowed(Conflict):
    code = "switch_not_allowed"
    default_message = _("You cannot switch provider now.")


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = _("This change is not possible in the prepatient's current state.")


class ReferralCodeNotValid(DomainError):
    """A laboratory's result refused because of its referral code; each subclass says
    why and gives the HTTP status. Catch this class for any of them."""

    code = "referral_code_not_valid"
    default_message = _("The referral code is not valid.")


class ReferralCodeUnknown(ReferralCodeNotValid, NotFound):
    code = "referral_code_unknown"
    default_message = _("The referral code is not valid.")


class ReferralCodeUsed(ReferralCodeNotValid, Conflict):
    """The code has been used (``services.inclusion_sample_receive_lab`` answers the
    same result sent again as a duplicate instead)."""

    code = "referral_code_used"
    default_message = _("The referral code is not valid.")


class ReferralCodeExpired(ReferralCodeNotValid, Conflict):
    code = "referral_code_expired"
    default_message = _("The referral code is not valid.")


class IdentityNotAccepted(InvalidInput):
    code = "identity_not_accepted"


class InvalidPersonnummer(InvalidInput):
    """A personnummer was refused; ``code`` says why (format, date, checksum, future).

    Raised by ``apps.registry.identity.parse_personnummer``; its message names the
    problem, never the number.
    """

    code = "invalid_personnummer"
    default_message = _("The personnummer is not valid.")


class RatingNotAllowed(Conflict):
    code = "rating_not_allowed"
    default_message = _("You cannot rate this provider.")


class PrepatientNotFound(NotFound):
    code = "prepatient_not_found"
