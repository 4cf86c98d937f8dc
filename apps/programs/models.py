"""Programmes and their versioned definitions: every rule is data, so a new programme
needs no code.

A programme's rules are its published versions' (``ProgrammeVersion``); the programme
row carries the current version's programme-wide figures (windows, cap, budget,
payment period, the outcome the charts follow), written when a version is published.
The defaults are those of the first programme (SPEC §3).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel
from prevention_engine import inclusion
from prevention_engine.interchange import (
    InvalidSettlementInput,
    read_criteria,
    read_disqualifiers,
)
from prevention_engine.model import Criterion, Disqualifier

FOLLOWUP_MEASURES = ["hba1c", "triglycerides", "cholesterol_total", "ldl", "hdl", "bmi",
                     "findrisc"]


def default_followup_measures() -> list[str]:
    """SPEC §3.2: HbA1c, lipids, cholesterol (total, LDL, HDL), BMI, FINDRISC."""
    return list(FOLLOWUP_MEASURES)


def default_outcome_criteria() -> list[dict[str, object]]:
    """SPEC §3.3: a lab HbA1c below 42 mmol/mol, the sample closest to the end."""
    return [{"measure": "hba1c", "unit": "mmol/mol", "sources": ["lab"],
             "aggregate": "closest", "compare": "value", "op": "lt", "threshold": "42"}]


def default_outcome_disqualifiers() -> list[dict[str, object]]:
    """SPEC §3.2–3.3: a lab HbA1c of 48 mmol/mol or more, at any time, counts as not reached
    (the person has developed diabetes)."""
    return [{"measure": "hba1c", "unit": "mmol/mol", "sources": ["lab"], "op": "ge",
             "threshold": "48", "reason": "developed_diabetes"}]


def _validated(reader: Callable[[Any, str], tuple[Any, ...]], value: Any, field: str) -> None:
    try:
        reader(value, field)
    except InvalidSettlementInput as error:
        raise ValidationError(_("%(path)s: %(problem)s"),
                              params={"path": error.path, "problem": error.problem},
                              code="invalid") from None


def validate_outcome_criteria(value: Any) -> None:
    _validated(read_criteria, value, "outcome_criteria")


def validate_outcome_disqualifiers(value: Any) -> None:
    _validated(read_disqualifiers, value, "outcome_disqualifiers")


SHARE = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))]


class Programme(TimeStampedModel):
    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)

    # Time line
    start_date = models.DateField(_("programme start"), default=date(2026, 1, 1))
    recruitment_months = models.PositiveSmallIntegerField(
        _("recruitment window (months)"), default=12,
        help_text=_("Recruitment closes this many months after the start, or at the cap."),
    )
    priority_months = models.PositiveSmallIntegerField(
        _("priority phase (months)"), default=6,
        help_text=_("During the first months only priority candidates may enroll."),
    )
    cap = models.PositiveIntegerField(_("cap on enrolled prepatients"), default=30_000)
    # How many have enrolled (every prepatient with an enrollment date, whatever their
    # state since): kept by enrollment under this row's lock, never above the cap.
    enrolled_count = models.PositiveIntegerField(_("enrolled prepatients"), default=0,
                                                 editable=False)
    programme_months = models.PositiveSmallIntegerField(
        _("individual programme length (months)"), default=24
    )
    switch_months = models.PositiveSmallIntegerField(
        _("switching allowed during the first (months)"), default=18
    )
    followup_interval_months = models.PositiveSmallIntegerField(
        _("follow-up interval (months)"), default=3
    )
    followup_measures = models.JSONField(
        _("complete follow-up set (measurement codes)"), default=default_followup_measures,
        help_text=_("Every code must have a value for a follow-up set to be complete."),
    )
    followup_grace_days = models.PositiveSmallIntegerField(
        _("grace period after a missed due date (days)"), default=30,
        help_text=_("After this many days without a complete set the prepatient is excluded."),
    )
    reminder_days_before = models.PositiveSmallIntegerField(
        _("reminder before a due date (days)"), default=14
    )

    referral_valid_days = models.PositiveSmallIntegerField(
        _("referral code valid (days)"), default=90
    )

    # Outcome (SETTLEMENT_FORMAT.md version 2: criteria and disqualifiers are data)
    outcome_criteria = models.JSONField(
        _("outcome criteria"), default=default_outcome_criteria,
        validators=[validate_outcome_criteria],
        help_text=_("Every criterion must be met: measure, unit, sources, aggregate (closest or "
                    "mean), compare (value, change or percent_change), op (lt, le, gt, ge) "
                    "and threshold. The first one is the target the charts show."),
    )
    outcome_disqualifiers = models.JSONField(
        _("outcome disqualifiers"), default=default_outcome_disqualifiers, blank=True,
        validators=[validate_outcome_disqualifiers],
        help_text=_("A value at any time from enrollment to the end of the outcome window "
                    "that makes the outcome a failure: measure, unit, sources, op, threshold "
                    "and reason."),
    )
    outcome_window_days = models.PositiveSmallIntegerField(
        _("outcome window (± days around the end date)"), default=30
    )

    # Payment
    payment_per_success = models.DecimalField(
        _("payment per successful prepatient"), max_digits=12, decimal_places=2,
        default=Decimal("47000.00"),
    )
    currency = models.CharField(_("currency"), max_length=3, default="SEK")
    floor_share = models.DecimalField(
        _("unpaid floor (share of attributed)"), max_digits=4, decimal_places=3,
        default=Decimal("0.10"), validators=SHARE,
    )
    ceiling_share = models.DecimalField(
        _("paid ceiling (share of attributed)"), max_digits=4, decimal_places=3,
        default=Decimal("0.80"), validators=SHARE,
    )
    min_attributed = models.PositiveIntegerField(
        _("minimum attributed prepatients to be paid"), default=50
    )
    budget_authorization = models.DecimalField(
        _("budget authorization"), max_digits=15, decimal_places=2,
        default=Decimal("1000000000.00"),
    )
    payments_from = models.DateField(_("payments reported from"), default=date(2028, 1, 1))
    payments_until = models.DateField(
        _("payments reported at the latest"), default=date(2029, 3, 31)
    )

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        ordering = ("start_date", "code")
        constraints = [
            models.CheckConstraint(condition=Q(cap__gt=0), name="programme_cap_positive"),
            models.CheckConstraint(condition=Q(enrolled_count__lte=F("cap")),
                                   name="programme_enrolled_within_cap"),
            models.CheckConstraint(
                condition=Q(floor_share__gte=0) & Q(ceiling_share__lte=1)
                & Q(floor_share__lte=F("ceiling_share")),
                name="programme_shares_ordered",
            ),
            models.CheckConstraint(
                condition=Q(priority_months__lte=F("recruitment_months"))
                & Q(switch_months__lte=F("programme_months")),
                name="programme_windows_ordered",
            ),
            models.CheckConstraint(
                condition=Q(payment_per_success__gte=0) & Q(budget_authorization__gte=0),
                name="programme_money_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(payments_from__lte=F("payments_until")),
                name="programme_payment_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saving a programme loaded earlier never writes back its enrolled count: only
        enrollment changes it, under the row's lock (name it in ``update_fields`` to
        write it anyway)."""
        if (not self._state.adding and not args and kwargs.get("update_fields") is None
                and not kwargs.get("force_insert")):
            kwargs["update_fields"] = [field.name for field in self._meta.concrete_fields
                                       if not field.primary_key
                                       and field.name != "enrolled_count"]
        super().save(*args, **kwargs)

    @property
    def recruitment_end(self) -> date:
        """The first day on which recruitment is closed."""
        return inclusion.recruitment_end(self.start_date, self.recruitment_months)

    @property
    def priority_end(self) -> date:
        """The first day after the priority phase."""
        return inclusion.priority_end(self.start_date, self.priority_months)

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        """The outcome criteria as the rule engine reads them."""
        return read_criteria(self.outcome_criteria, "outcome_criteria")

    @property
    def disqualifiers(self) -> tuple[Disqualifier, ...]:
        return read_disqualifiers(self.outcome_disqualifiers, "outcome_disqualifiers")

    @property
    def outcome_measure(self) -> str:
        """The first criterion's measure: the outcome the charts and forecasts follow."""
        return self.criteria[0].measure

    @property
    def outcome_unit(self) -> str:
        return self.criteria[0].unit

    @property
    def outcome_below(self) -> Decimal:
        """The first criterion's threshold, which the charts draw as the target."""
        return self.criteria[0].threshold

    @property
    def max_paid_per_provider_share(self) -> Decimal:
        return self.ceiling_share - self.floor_share

    @property
    def max_paid_count(self) -> int:
        """The most successes that can be paid if the cap enrolls with one provider."""
        return max(
            0,
            math.floor(self.ceiling_share * self.cap) - math.ceil(self.floor_share * self.cap),
        )

    @property
    def max_outcome_payments(self) -> Decimal:
        return self.payment_per_success * self.max_paid_count

    @property
    def evaluator_share(self) -> Decimal:
        """What the budget leaves once every payable outcome is paid (SPEC §3)."""
        return self.budget_authorization - self.max_outcome_payments


# --- Definitions as data, versioned and frozen once published -------------------------


class DefinitionStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    PUBLISHED = "published", _("published")


class Questionnaire(TimeStampedModel):
    """One version of a questionnaire (``prevention_engine.questionnaire``): items,
    answer options with points, score bands. Published versions never change (the
    database refuses); a change is a new version."""

    code = models.SlugField(_("code"), max_length=64)
    version = models.PositiveIntegerField(_("version"))
    definition = models.JSONField(_("definition"))
    status = models.CharField(_("status"), max_length=16, choices=DefinitionStatus.choices,
                              default=DefinitionStatus.DRAFT)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)

    class Meta:
        verbose_name = _("questionnaire")
        verbose_name_plural = _("questionnaires")
        ordering = ("code", "-version")
        constraints = [
            models.UniqueConstraint(fields=("code", "version"),
                                    name="questionnaire_one_per_version"),
            models.CheckConstraint(
                condition=Q(status=DefinitionStatus.DRAFT) | Q(published_at__isnull=False),
                name="questionnaire_published_has_date"),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class ProgrammeVersion(TimeStampedModel):
    """One version of a programme's definition (``prevention_engine.definition``).

    A draft is written by one caseworker and published by another (four eyes); a
    published version never changes (the database refuses an UPDATE or DELETE) and
    applies to the enrollments made under it. A change is a new version.
    """

    programme = models.ForeignKey(Programme, verbose_name=_("programme"),
                                  on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    definition = models.JSONField(_("definition"))
    status = models.CharField(_("status"), max_length=16, choices=DefinitionStatus.choices,
                              default=DefinitionStatus.DRAFT)
    # Empty for a version shipped with a release (published by the migration that
    # ships it: the release's review is its four eyes).
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("drafted by"),
                                   on_delete=models.PROTECT, related_name="+", null=True,
                                   blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("published by"),
                                     on_delete=models.PROTECT, related_name="+", null=True,
                                     blank=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)

    class Meta:
        verbose_name = _("programme version")
        verbose_name_plural = _("programme versions")
        ordering = ("programme", "-version")
        permissions = [("publish_programmeversion", _("Can publish a programme version"))]
        constraints = [
            models.UniqueConstraint(fields=("programme", "version"),
                                    name="programme_version_one_per_number"),
            models.CheckConstraint(
                condition=Q(status=DefinitionStatus.DRAFT, published_by__isnull=True,
                            published_at__isnull=True)
                | (Q(status=DefinitionStatus.PUBLISHED, published_by__isnull=False,
                     published_at__isnull=False, created_by__isnull=False)
                   & ~Q(published_by=F("created_by")))
                | Q(status=DefinitionStatus.PUBLISHED, created_by__isnull=True,
                    published_by__isnull=True, published_at__isnull=False),
                name="programme_version_four_eyes",
                violation_error_message=_("A version is published by another caseworker "
                                          "than the one who drafted it."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.programme.code} v{self.version}"
