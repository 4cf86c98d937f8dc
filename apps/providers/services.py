"""The providers' writers: authorization (SPEC §3.5) and API credentials.

Each service validates, locks the provider (and application), writes the
event and the cached status in one transaction, and announces a lost
authorization with ``transaction.on_commit`` (``signals.authorization_lost``:
the consent app, which knows the provider's prepatients, emails them).

Transitions of ``Provider.authorization_status`` by decision:

=========  =======================================  ==========
decision   allowed from                             to
=========  =======================================  ==========
approve    a pending application (all declarations  authorized
           made, the latest checks without a fail)
reject     a pending application                    rejected
suspend    authorized                               suspended
reinstate  suspended                                authorized
revoke     authorized or suspended                  revoked
=========  =======================================  ==========

An application is made for one programme, with its declarations. A provider that
is pending, rejected or revoked may apply (authorization is open continuously);
its status becomes pending. An authorized provider may apply for a programme it
does not offer yet; it stays authorized while that application is decided, and
rejecting it leaves the provider as it was. Approving an application makes the
provider offer its programme (``ProgrammeOffer``): it is chosen, listed and
settled there.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.core.errors import InvalidInput, require_reason
from apps.programs.models import Programme
from apps.providers.errors import (
    AlreadyAuthorized,
    ApplicationAlreadyPending,
    ApplicationNotFound,
    ApplicationNotPending,
    ChecksFailed,
    ChecksNotRun,
    DecisionNotAllowed,
    DeclarationsIncomplete,
)
from apps.providers.models import (
    LAB_SCOPES,
    PROVIDER_SCOPES,
    ApiCredential,
    ApplicationStatus,
    AuthorizationApplication,
    AuthorizationCheck,
    AuthorizationDecision,
    AuthorizationStatus,
    CheckKind,
    CheckResult,
    CostCoverage,
    DecisionKind,
    Lab,
    ProgrammeOffer,
    Provider,
    clean_scopes,
    hash_secret,
)
from apps.providers.registers import AuthorizationRegistry, Party, get_authorization_registry
from apps.providers.signals import authorization_lost

# decision → (statuses it applies to, status after). Approve and reject act on
# a pending application instead; the provider is then pending.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    DecisionKind.APPROVE: ((AuthorizationStatus.PENDING, AuthorizationStatus.AUTHORIZED),
                           AuthorizationStatus.AUTHORIZED),
    DecisionKind.REJECT: ((AuthorizationStatus.PENDING, AuthorizationStatus.AUTHORIZED),
                          AuthorizationStatus.REJECTED),
    DecisionKind.SUSPEND: ((AuthorizationStatus.AUTHORIZED,), AuthorizationStatus.SUSPENDED),
    DecisionKind.REINSTATE: ((AuthorizationStatus.SUSPENDED,), AuthorizationStatus.AUTHORIZED),
    DecisionKind.REVOKE: ((AuthorizationStatus.AUTHORIZED, AuthorizationStatus.SUSPENDED),
                          AuthorizationStatus.REVOKED),
}
APPLICATION_DECISIONS = (DecisionKind.APPROVE, DecisionKind.REJECT)
LOSES_AUTHORIZATION = (DecisionKind.SUSPEND, DecisionKind.REVOKE)
MAY_APPLY_FROM = (AuthorizationStatus.PENDING, AuthorizationStatus.REJECTED,
                  AuthorizationStatus.REVOKED)


@dataclass(frozen=True)
class Declarations:
    """What an applicant declares (SPEC §3.5); see ``AuthorizationApplication``."""

    targets_programme_outcome: bool = False
    individualised_support: bool = False
    voluntary_participation: bool = False
    serves_at_least_50: bool = False
    will_not_refuse: bool = False
    accepts_switching_rules: bool = False
    accepts_payment_model: bool = False
    cost_coverage_programme_months: bool = False
    cost_coverage_by: str = ""
    includes_medical_device: bool = False
    medical_device_ce_marked: bool = False

    @classmethod
    def all_made(cls, *, cost_coverage_by: str = CostCoverage.OWN_CAPITAL) -> Declarations:
        """Every declaration made, no medical device (tests and demos)."""
        return cls(True, True, True, True, True, True, True, True, cost_coverage_by)



def _require_actor(actor: Any) -> Any:
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise InvalidInput(_("A decision is made by a signed-in caseworker."),
                           code="actor_required")
    return actor


def _locked_provider(provider: Provider) -> Provider:
    return Provider.objects.select_for_update().get(pk=provider.pk)


# --- Applications -----------------------------------------------------------------


@transaction.atomic
def authorization_apply(
    *,
    provider: Provider,
    programme: Programme,
    declarations: Declarations,
    submitted_by: Any = None,
    note: str = "",
) -> AuthorizationApplication:
    """Records an application to offer support in ``programme``; the provider's status
    becomes pending (an authorized provider applying for a further programme stays
    authorized).

    Declarations that are not made are recorded as such (the application is
    then refused at approval, with the list); the cost-coverage source must
    name an external financier on the provider when it says so.
    """
    provider = _locked_provider(provider)
    further = provider.authorization_status == AuthorizationStatus.AUTHORIZED
    if further and ProgrammeOffer.objects.filter(provider=provider,
                                                 programme=programme).exists():
        raise AlreadyAuthorized(_("The provider already offers its support in this "
                                  "programme."))
    if not further and provider.authorization_status not in MAY_APPLY_FROM:
        raise AlreadyAuthorized()
    if provider.authorization_applications.filter(status=ApplicationStatus.PENDING).exists():
        raise ApplicationAlreadyPending()
    if declarations.cost_coverage_by not in ("", *CostCoverage.values):
        raise InvalidInput(fields={"cost_coverage_by": _("Choose own capital or a financier.")})
    if declarations.cost_coverage_programme_months and not declarations.cost_coverage_by:
        raise InvalidInput(fields={"cost_coverage_by": _(
            "Say whether the costs are covered by own capital or by a financier.")})
    if declarations.cost_coverage_by == CostCoverage.FINANCIER and not provider.has_financier:
        raise InvalidInput(fields={"cost_coverage_by": _(
            "Name the financier and its organisation number on the provider first.")})
    application = AuthorizationApplication.objects.create(
        provider=provider, programme=programme, submitted_at=clock.now(),
        submitted_by=submitted_by if getattr(submitted_by, "is_authenticated", False) else None,
        note=note.strip(), **asdict(declarations),
    )
    if not further and provider.authorization_status != AuthorizationStatus.PENDING:
        provider.authorization_status = AuthorizationStatus.PENDING
        provider.save(update_fields=["authorization_status"])
    return application


def _parties(provider: Provider) -> list[Party]:
    parties = [Party("provider", provider.name, provider.organisation_number)]
    parties += [Party("subcontractor", item["name"], item["organisation_number"])
                for item in provider.subcontractors]
    parties += [Party("owner", item["name"], item.get("organisation_number", ""),
                      item.get("birth_year")) for item in provider.owners]
    return parties


@transaction.atomic
def authorization_run_checks(
    *, application: AuthorizationApplication, registry: AuthorizationRegistry | None = None
) -> list[AuthorizationCheck]:
    """Runs every automated check of a pending application; returns the new rows.

    Each run is kept (append-only) under the next run number; approval looks
    at the latest run. Convictions are checked for the provider, each
    subcontractor and each owner or beneficial owner.
    """
    application = (AuthorizationApplication.objects.select_for_update()
                   .select_related("provider").get(pk=application.pk))
    if application.status != ApplicationStatus.PENDING:
        raise ApplicationNotPending()
    registry = registry or get_authorization_registry()
    provider = application.provider
    number = provider.organisation_number
    outcomes = [
        (CheckKind.F_TAX, Party("provider", provider.name, number), registry.f_tax(number)),
        (CheckKind.TAX_DEBTS, Party("provider", provider.name, number),
         registry.tax_debts(number)),
        (CheckKind.ANNUAL_REPORT, Party("provider", provider.name, number),
         registry.annual_report(number)),
        *((CheckKind.CONVICTIONS, party, registry.convictions(party))
          for party in _parties(provider)),
        (CheckKind.FLAGGED_SUPPLIER, Party("provider", provider.name, number),
         registry.flagged_supplier(number)),
    ]
    latest = application.checks.order_by("-run").values_list("run", flat=True).first() or 0
    now = clock.now()
    rows = [
        AuthorizationCheck(
            application=application, run=latest + 1, kind=kind, subject=party.describe()[:250],
            result=outcome.result, detail=outcome.detail[:500], source=outcome.source[:250],
            checked_at=now,
        )
        for kind, party, outcome in outcomes
    ]
    return AuthorizationCheck.objects.bulk_create(rows)


# --- Decisions ----------------------------------------------------------------------


def _pending_application(provider: Provider,
                         application: AuthorizationApplication | None) -> AuthorizationApplication:
    applications = AuthorizationApplication.objects.select_for_update().filter(provider=provider)
    if application is None:
        found = applications.filter(status=ApplicationStatus.PENDING).first()
        if found is None:
            raise ApplicationNotPending(_("The provider has no pending application."))
        return found
    found = applications.filter(pk=application.pk).first()
    if found is None:
        raise ApplicationNotFound()
    if found.status != ApplicationStatus.PENDING:
        raise ApplicationNotPending()
    return found


def _check_approvable(application: AuthorizationApplication) -> None:
    unmet = application.unmet_declarations()
    if unmet:
        fields = {name: _("Not declared.") for name in unmet}
        raise DeclarationsIncomplete(fields=fields)
    checks = list(application.latest_checks())
    if not checks:
        raise ChecksNotRun()
    failed = [check for check in checks if check.result == CheckResult.FAIL]
    if failed:
        raise ChecksFailed(fields={"checks": [
            f"{check.get_kind_display()} – {check.subject}: {check.detail}" for check in failed
        ]})


_PAST: dict[str, Any] = {
    DecisionKind.APPROVE: _("approved"),
    DecisionKind.REJECT: _("rejected"),
    DecisionKind.SUSPEND: _("suspended"),
    DecisionKind.REINSTATE: _("reinstated"),
    DecisionKind.REVOKE: _("revoked"),
}


@transaction.atomic
def programme_offer(*, provider: Provider, programme: Programme) -> ProgrammeOffer:
    """The provider offers its support in ``programme`` from today (again: nothing
    changes)."""
    offer, _created = ProgrammeOffer.objects.get_or_create(
        provider=provider, programme=programme, defaults={"since": clock.today()})
    return offer


def authorization_decide(
    *,
    provider: Provider,
    decision: str,
    reason: str,
    actor: Any,
    application: AuthorizationApplication | None = None,
) -> AuthorizationDecision:
    """Records a caseworker's decision and updates the provider's status.

    Approve and reject act on the provider's pending application (the one
    given, or the pending one); the others on the provider's status. When the
    provider loses its authorization (suspend, revoke), ``authorization_lost``
    is sent after the commit: the consent app then tells the provider's current
    prepatients by email that they may choose another provider whatever the
    switching window.
    """
    reason = require_reason(reason)
    actor = _require_actor(actor)
    if decision not in TRANSITIONS:
        raise InvalidInput(fields={"decision": _("Unknown decision.")})
    provider = _locked_provider(provider)
    allowed_from, to_status = TRANSITIONS[decision]
    if provider.authorization_status not in allowed_from:
        raise DecisionNotAllowed(
            _("The provider cannot be %(decision)s: its status is “%(status)s”.") % {
                "status": provider.get_authorization_status_display(),
                "decision": _PAST[decision],
            },
            code=f"cannot_{decision}",
        )
    if decision in APPLICATION_DECISIONS:
        application = _pending_application(provider, application)
        if decision == DecisionKind.APPROVE:
            _check_approvable(application)
            programme_offer(provider=provider, programme=application.programme)
        elif provider.authorization_status == AuthorizationStatus.AUTHORIZED:
            # An application for a further programme: refusing it leaves the
            # authorization for the programmes offered as it is.
            to_status = AuthorizationStatus.AUTHORIZED
        application.status = (ApplicationStatus.APPROVED if decision == DecisionKind.APPROVE
                              else ApplicationStatus.REJECTED)
        application.save(update_fields=["status"])
    elif application is not None and application.provider_id != provider.pk:
        raise ApplicationNotFound()
    event = AuthorizationDecision.objects.create(
        provider=provider, application=application, decision=decision,
        from_status=provider.authorization_status, to_status=to_status, reason=reason,
        actor=actor, at=clock.now(),
    )
    provider.authorization_status = to_status
    provider.save(update_fields=["authorization_status"])
    if decision in LOSES_AUTHORIZATION:
        transaction.on_commit(lambda: authorization_lost.send(sender=AuthorizationDecision,
                                                              decision=event))
    return event


# --- API credentials ----------------------------------------------------------------


def api_credential_issue(
    *,
    label: str,
    scopes: Iterable[str] | None = None,
    provider: Provider | None = None,
    lab: Lab | None = None,
) -> tuple[ApiCredential, str]:
    """Issues a key for exactly one organisation, a provider or a laboratory.

    ``scopes=None`` gives every scope of the organisation's kind (``PROVIDER_SCOPES``
    or ``LAB_SCOPES``); a list narrows it. Returns the credential and the full key,
    which is shown once and never stored (only its hash is).
    """
    label = (label or "").strip()
    if not label:
        raise InvalidInput(fields={"label": _("Please give the key a label.")})
    if (provider is None) == (lab is None):
        raise InvalidInput(_("A key belongs to exactly one organisation: a provider or a "
                             "laboratory."), code="one_organisation")
    for_lab = lab is not None
    try:
        chosen = clean_scopes(
            scopes if scopes is not None else (LAB_SCOPES if for_lab else PROVIDER_SCOPES),
            for_lab=for_lab)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages), code=error.code or "invalid",
                           fields={"scopes": error.messages}) from None
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    credential = ApiCredential.objects.create(
        provider=provider, lab=lab, label=label, scopes=chosen, prefix=prefix,
        secret_hash=hash_secret(secret))
    return credential, f"{prefix}.{secret}"


# ``last_used_at`` is written at most this often per key (one UPDATE, not one per call).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_credential_touch(*, credential: ApiCredential) -> None:
    """Records that the key was used now, at most once per ``LAST_USED_RESOLUTION``."""
    now = clock.now()
    if credential.last_used_at is not None and now - credential.last_used_at < (
            LAST_USED_RESOLUTION):
        return
    ApiCredential.objects.filter(pk=credential.pk).update(last_used_at=now)
    credential.last_used_at = now


def api_credential_revoke(*, credential: ApiCredential) -> ApiCredential:
    """Revokes a key at once; revoking a revoked key changes nothing."""
    with transaction.atomic():
        credential = ApiCredential.objects.select_for_update().get(pk=credential.pk)
        if credential.revoked_at is None:
            credential.revoke()
    return credential


def api_credentials_revoke(*, credentials: QuerySet[ApiCredential]) -> int:
    """Revokes each key of the selection that is still active (in one transaction);
    returns how many were revoked."""
    count = 0
    with transaction.atomic():
        for credential in credentials.filter(revoked_at=None):
            api_credential_revoke(credential=credential)
            count += 1
    return count
