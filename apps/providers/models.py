"""Providers and laboratories, their authorization history, and API keys.

Authorization (SPEC §3.5) is kept as history: applications with their
declarations, the automated checks run on them, and append-only decisions.
``Provider.authorization_status`` caches the current status; only
``apps.providers.services`` writes it, in the same transaction as the decision.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.core.models import TimeStampedModel
from apps.programs.models import Programme
from apps.providers.validators import (
    clean_accessibility,
    clean_languages,
    clean_owners,
    clean_regions,
    clean_subcontractors,
    normalise_organisation_number,
    validate_accessibility,
    validate_languages,
    validate_organisation_number,
    validate_owners,
    validate_regions,
    validate_subcontractors,
)

MINIMUM_CAPACITY = 50


def _clean_optional_number(value: str) -> str:
    return normalise_organisation_number(value) if value else ""


class AuthorizationStatus(models.TextChoices):
    PENDING = "pending", _("Application pending")
    AUTHORIZED = "authorized", _("Authorized")
    SUSPENDED = "suspended", _("Suspended")
    REVOKED = "revoked", _("Revoked")
    REJECTED = "rejected", _("Rejected")


# A laboratory's ``authorization_status`` when it is not authorized.
LAB_NOT_AUTHORIZED = "not_authorized"


class DeliveryMode(models.TextChoices):
    REMOTE = "remote", _("Remote")
    ON_SITE = "on_site", _("On site")
    BOTH = "both", _("Remote and on site")


class CoachType(models.TextChoices):
    HUMAN = "human", _("Human coaches")
    AI = "ai", _("AI coach")
    BOTH = "both", _("Human and AI coaches")


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

    # Contact
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    website = models.URLField(_("website"), blank=True)

    # Marketplace profile (SPEC §3.6)
    offer_sv = models.TextField(_("what we offer (Swedish)"), blank=True)
    offer_en = models.TextField(_("what we offer (English)"), blank=True)
    delivery_mode = models.CharField(_("delivery"), max_length=8, choices=DeliveryMode.choices,
                                     blank=True)
    coach_type = models.CharField(_("coaches"), max_length=8, choices=CoachType.choices,
                                  blank=True)
    languages = models.JSONField(
        _("languages"), default=list, blank=True, validators=[validate_languages],
        help_text=_("ISO 639-1 codes, e.g. sv, en, ar."),
    )
    accessibility = models.JSONField(
        _("accessibility"), default=list, blank=True, validators=[validate_accessibility],
    )
    regions = models.JSONField(
        _("regions"), default=list, blank=True, validators=[validate_regions],
        help_text=_("Regions served on site, or national."),
    )
    capacity = models.PositiveIntegerField(
        _("declared capacity"), null=True, blank=True,
        validators=[MinValueValidator(MINIMUM_CAPACITY)],
        help_text=_("Prepatients the provider can serve at the same time (at least 50)."),
    )

    # Organisation behind the provider (SPEC §3.5)
    subcontractors = models.JSONField(
        _("subcontractors"), default=list, blank=True, validators=[validate_subcontractors],
        help_text=_('A list of {"name": …, "organisation_number": …}.'),
    )
    owners = models.JSONField(
        _("owners and beneficial owners"), default=list, blank=True,
        validators=[validate_owners],
        help_text=_('A list of {"name": …, "organisation_number": …} for a company or '
                    '{"name": …, "birth_year": …} for a person. Never a personal identity '
                    "number."),
    )
    financier_name = models.CharField(
        _("financier (guarantor)"), max_length=200, blank=True,
        help_text=_("An external financier guaranteeing 24 months of operation, if any."),
    )
    financier_organisation_number = models.CharField(
        _("financier's organisation number"), max_length=10, blank=True,
        validators=[validate_organisation_number],
    )

    class Meta:
        verbose_name = _("provider")
        verbose_name_plural = _("providers")
        ordering = ("name",)
        permissions = [("decide_authorization", _("Can decide on authorization"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=MINIMUM_CAPACITY),
                name="provider_capacity_at_least_50",
                violation_error_message=_("The declared capacity is at least 50 prepatients."),
            ),
            models.CheckConstraint(
                condition=Q(financier_name="", financier_organisation_number="")
                | (~Q(financier_name="") & ~Q(financier_organisation_number="")),
                name="provider_financier_complete",
                violation_error_message=_("Give both the financier's name and its "
                                          "organisation number, or neither."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_authorized(self) -> bool:
        return self.authorization_status == AuthorizationStatus.AUTHORIZED

    @property
    def has_financier(self) -> bool:
        return bool(self.financier_name and self.financier_organisation_number)

    def clean(self) -> None:
        """Normalises the profile's lists and numbers (the field validators have run)."""
        super().clean()
        cleaners: dict[str, Callable[[Any], Any]] = {
            "languages": clean_languages, "accessibility": clean_accessibility,
            "regions": clean_regions, "subcontractors": clean_subcontractors,
            "owners": clean_owners, "financier_organisation_number": _clean_optional_number,
        }
        for field, cleaner in cleaners.items():
            # A value that does not clean is reported by the field's own validator.
            with contextlib.suppress(ValidationError):
                setattr(self, field, cleaner(getattr(self, field)))
        if bool(self.financier_name) != bool(self.financier_organisation_number):
            raise ValidationError({"financier_organisation_number": ValidationError(
                _("Give both the financier's name and its organisation number, or neither."),
                code="financier_incomplete")})


class ProgrammeOffer(models.Model):
    """A provider offers its support in a programme: it is chosen there, listed there
    and settled there. Authorization (and its suspension) is the organisation's; the
    programmes it offers are given by caseworkers one by one."""

    provider = models.ForeignKey(Provider, verbose_name=_("provider"), on_delete=models.CASCADE,
                                 related_name="offers")
    programme = models.ForeignKey(Programme, verbose_name=_("programme"),
                                  on_delete=models.PROTECT, related_name="offers")
    since = models.DateField(_("offered since"))

    class Meta:
        verbose_name = _("programme offered")
        verbose_name_plural = _("programmes offered")
        constraints = [models.UniqueConstraint(fields=("provider", "programme"),
                                               name="programme_offer_once")]

    def __str__(self) -> str:
        return f"{self.provider} – {self.programme}"


class Lab(TimeStampedModel):
    """A laboratory sending results to the platform."""

    name = models.CharField(_("name"), max_length=200)
    organisation_number = models.CharField(
        _("organisation number"), max_length=10, unique=True,
        validators=[validate_organisation_number],
        help_text=_("10 digits without a hyphen."),
    )
    email = models.EmailField(_("contact email"), blank=True)
    is_authorized = models.BooleanField(
        _("authorized"), default=True,
        help_text=_("A laboratory that is not authorized cannot use its API keys."),
    )

    class Meta:
        verbose_name = _("laboratory")
        verbose_name_plural = _("laboratories")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def authorization_status(self) -> str:
        """``authorized`` or ``not_authorized``: a laboratory has no application, only
        ``is_authorized``."""
        return AuthorizationStatus.AUTHORIZED.value if self.is_authorized else LAB_NOT_AUTHORIZED


# --- Authorization ------------------------------------------------------------------


class ApplicationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class CostCoverage(models.TextChoices):
    OWN_CAPITAL = "own_capital", _("Own capital")
    FINANCIER = "financier", _("External financier acting as guarantor")


# The declarations of an application (SPEC §3.5): every one must be true. They are
# made for the programme applied for: its target group, outcome and length are its
# definition's.
DECLARATIONS = (
    "targets_programme_outcome", "individualised_support", "voluntary_participation",
    "serves_at_least_50", "will_not_refuse", "accepts_switching_rules",
    "accepts_payment_model", "cost_coverage_programme_months",
)


class AuthorizationApplication(TimeStampedModel):
    """An application to offer support in a programme, with the provider's declarations
    for it. The first approved makes the organisation authorized; each approved one
    makes the provider offer its programme."""

    provider = models.ForeignKey(Provider, verbose_name=_("provider"), on_delete=models.PROTECT,
                                 related_name="authorization_applications")
    programme = models.ForeignKey(Programme, verbose_name=_("programme"),
                                  on_delete=models.PROTECT, related_name="+",
                                  help_text=_("The programme the provider applies to offer "
                                              "its support in."))
    submitted_at = models.DateTimeField(_("submitted"), default=clock.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("registered by"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    status = models.CharField(_("status"), max_length=10, choices=ApplicationStatus.choices,
                              default=ApplicationStatus.PENDING, editable=False)

    targets_programme_outcome = models.BooleanField(
        _("The support is aimed at the programme's target group and at its outcome, as the "
          "programme's definition states them"), default=False)
    individualised_support = models.BooleanField(
        _("The support is individualised"), default=False)
    voluntary_participation = models.BooleanField(
        _("Participation is voluntary, with a choice of forms of support"), default=False)
    serves_at_least_50 = models.BooleanField(
        _("The provider can serve at least 50 prepatients"), default=False)
    will_not_refuse = models.BooleanField(
        _("The provider will not refuse a prepatient who chooses it"), default=False)
    accepts_switching_rules = models.BooleanField(
        _("The provider accepts the rules for switching provider"), default=False)
    accepts_payment_model = models.BooleanField(
        _("The provider accepts the payment model"), default=False)
    cost_coverage_programme_months = models.BooleanField(
        _("The costs of operation for the programme's whole length are covered by own "
          "capital or by an external financier acting as guarantor"), default=False)
    cost_coverage_by = models.CharField(
        _("cost coverage by"), max_length=12, choices=CostCoverage.choices, blank=True)
    includes_medical_device = models.BooleanField(
        _("A medical device is part of the intervention"), default=False,
        help_text=_("Leave unticked when no medical device is used."))
    medical_device_ce_marked = models.BooleanField(
        _("Every medical device in the intervention is CE marked under the MDR "
          "(EU 2017/745)"), default=False)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("authorization application")
        verbose_name_plural = _("authorization applications")
        ordering = ("-submitted_at", "-pk")
        constraints = [
            models.UniqueConstraint(
                fields=["provider"], condition=Q(status="pending"),
                name="authorization_one_pending_application",
                violation_error_message=_("The provider already has a pending application."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} ({self.submitted_at:%Y-%m-%d})"

    def unmet_declarations(self) -> list[str]:
        """The names of the declarations that are not made (empty when all are)."""
        unmet = [name for name in DECLARATIONS if not getattr(self, name)]
        if self.includes_medical_device and not self.medical_device_ce_marked:
            unmet.append("medical_device_ce_marked")
        if self.cost_coverage_by == CostCoverage.FINANCIER and not self.provider.has_financier:
            unmet.append("cost_coverage_by")  # the guarantor must be named on the provider
        return unmet

    def latest_checks(self) -> models.QuerySet[AuthorizationCheck]:
        """The rows of the latest run of the automated checks (none before the first)."""
        latest = self.checks.aggregate(run=models.Max("run"))["run"]
        return self.checks.filter(run=latest) if latest else self.checks.none()


class CheckKind(models.TextChoices):
    F_TAX = "f_tax", _("F-tax registration")
    TAX_DEBTS = "tax_debts", _("Tax debts")
    ANNUAL_REPORT = "annual_report", _("Approved annual report")
    CONVICTIONS = "convictions", _("Convictions related to welfare crime")
    FLAGGED_SUPPLIER = "flagged_supplier", _("Flags in the database of public-sector suppliers")


class CheckResult(models.TextChoices):
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Fail")
    NOT_FOUND = "not_found", _("Not found: check manually")


class AuthorizationCheck(models.Model):
    """One result of an automated check of an application. Append-only: each
    run of the checks adds rows with the next ``run`` number."""

    application = models.ForeignKey(
        AuthorizationApplication, verbose_name=_("application"), on_delete=models.PROTECT,
        related_name="checks",
    )
    run = models.PositiveIntegerField(_("run"))
    kind = models.CharField(_("check"), max_length=20, choices=CheckKind.choices)
    subject = models.CharField(_("checked party"), max_length=250)
    result = models.CharField(_("result"), max_length=10, choices=CheckResult.choices)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=250)
    checked_at = models.DateTimeField(_("checked"), default=clock.now)

    class Meta:
        verbose_name = _("authorization check")
        verbose_name_plural = _("authorization checks")
        ordering = ("application", "run", "pk")
        indexes = [models.Index(fields=["application", "run"], name="authcheck_run")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_result_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Authorization checks are append-only.")
        super().save(*args, **kwargs)


class DecisionKind(models.TextChoices):
    APPROVE = "approve", _("Approve")
    REJECT = "reject", _("Reject")
    SUSPEND = "suspend", _("Suspend")
    REINSTATE = "reinstate", _("Reinstate")
    REVOKE = "revoke", _("Revoke")


class AuthorizationDecision(models.Model):
    """A caseworker's decision with its reason. Append-only; the provider's
    ``authorization_status`` is updated in the same transaction."""

    provider = models.ForeignKey(Provider, verbose_name=_("provider"), on_delete=models.PROTECT,
                                 related_name="authorization_decisions")
    application = models.ForeignKey(
        AuthorizationApplication, verbose_name=_("application"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="decisions",
    )
    decision = models.CharField(_("decision"), max_length=10, choices=DecisionKind.choices)
    from_status = models.CharField(_("status before"), max_length=16,
                                   choices=AuthorizationStatus.choices)
    to_status = models.CharField(_("status after"), max_length=16,
                                 choices=AuthorizationStatus.choices)
    reason = models.TextField(_("reason"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"),
                              on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("when"), default=clock.now)

    class Meta:
        verbose_name = _("authorization decision")
        verbose_name_plural = _("authorization decisions")
        ordering = ("provider", "at", "pk")
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""),
                                   name="authorization_decision_has_reason"),
        ]
        indexes = [models.Index(fields=["provider", "at"], name="authdecision_provider")]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.provider} ({self.at:%Y-%m-%d})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Authorization decisions are append-only.")
        super().save(*args, **kwargs)


# --- API credentials ----------------------------------------------------------------


class Scope(models.TextChoices):
    PREPATIENTS_READ = "prepatients:read", _("Read the provider's prepatients")
    MEASUREMENTS_WRITE = "measurements:write", _("Report measurements")
    SETTLEMENT_READ = "settlement:read", _("Read settlements")
    SETTLEMENT_DISPUTE = "settlement:dispute", _("Dispute settlement lines")
    LAB_RESULTS = "lab:results", _("Send laboratory results")


PROVIDER_SCOPES = (Scope.PREPATIENTS_READ, Scope.MEASUREMENTS_WRITE, Scope.SETTLEMENT_READ,
                   Scope.SETTLEMENT_DISPUTE)
LAB_SCOPES = (Scope.LAB_RESULTS, Scope.MEASUREMENTS_WRITE)


def clean_scopes(scopes: Iterable[str], *, for_lab: bool) -> list[str]:
    """The scopes in a stable order; refuses unknown ones and those of the other kind."""
    allowed = LAB_SCOPES if for_lab else PROVIDER_SCOPES
    requested = list(dict.fromkeys(scopes))
    unknown = [scope for scope in requested if scope not in Scope.values]
    if unknown:
        raise ValidationError(_("Unknown scopes: %(scopes)s."), code="scope_unknown",
                              params={"scopes": ", ".join(unknown)})
    misplaced = [scope for scope in requested if scope not in allowed]
    if misplaced:
        raise ValidationError(
            _("These scopes are not available to a %(kind)s: %(scopes)s."),
            code="scope_not_allowed",
            params={"kind": _("laboratory") if for_lab else _("provider"),
                    "scopes": ", ".join(misplaced)},
        )
    return [scope.value for scope in Scope if scope.value in requested]


def validate_scopes(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_("Expected a list of scopes."), code="scope_list")
    unknown = [scope for scope in value if scope not in Scope.values]
    if unknown:
        raise ValidationError(_("Unknown scopes: %(scopes)s."), code="scope_unknown",
                              params={"scopes": ", ".join(unknown)})


def hash_secret(secret: str) -> str:
    # Keys are 256-bit random values: a fast hash is enough (no dictionary to guess).
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ApiCredential(TimeStampedModel):
    """An organisation's API key: shown once, stored hashed, revocable.

    It belongs to exactly one organisation, a provider or a laboratory, and
    allows only its ``scopes``.
    """

    provider = models.ForeignKey(
        Provider, verbose_name=_("provider"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="api_credentials",
    )
    lab = models.ForeignKey(
        Lab, verbose_name=_("laboratory"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="api_credentials",
    )
    label = models.CharField(_("label"), max_length=100)
    scopes = models.JSONField(_("scopes"), default=list, blank=True, validators=[validate_scopes])
    prefix = models.CharField(_("key prefix"), max_length=12, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API credential")
        verbose_name_plural = _("API credentials")
        constraints = [
            models.CheckConstraint(
                condition=Q(provider__isnull=False, lab__isnull=True)
                | Q(provider__isnull=True, lab__isnull=False),
                name="api_credential_one_organisation",
                violation_error_message=_("A key belongs to exactly one organisation: a "
                                          "provider or a laboratory."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} — {self.label} ({self.prefix}…)"

    @property
    def organisation(self) -> Provider | Lab:
        organisation = self.provider if self.provider_id is not None else self.lab
        assert organisation is not None  # the database constraint
        return organisation

    @property
    def organisation_label(self) -> str:
        """``provider:<id>`` or ``lab:<id>``: how logs and feeds name the organisation."""
        if self.provider_id is not None:
            return f"provider:{self.provider_id}"
        return f"lab:{self.lab_id}"

    def matches(self, secret: str) -> bool:
        return secrets.compare_digest(self.secret_hash, hash_secret(secret))

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        self.revoked_at = clock.now()
        self.save(update_fields=["revoked_at"])
