"""Measurement types (as data), values (append-only), safety notices, reminders.

Values are stored in the type's canonical unit with the reported value and
unit beside them. A correction is a new row that supersedes the old one; no
value is ever updated in place.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.providers.models import Provider
from apps.registry.models import Prepatient


class MeasurementType(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name_sv = models.CharField(_("name (Swedish)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    loinc = models.CharField(_("LOINC code"), max_length=16, blank=True)
    canonical_unit = models.CharField(_("canonical unit"), max_length=16)
    decimal_places = models.PositiveSmallIntegerField(_("decimals"))
    plausible_min = models.DecimalField(_("plausible from"), max_digits=10, decimal_places=3)
    plausible_max = models.DecimalField(_("plausible to"), max_digits=10, decimal_places=3)
    derived = models.BooleanField(_("derived from other values"), default=False)

    class Meta:
        verbose_name = _("measurement type")
        verbose_name_plural = _("measurement types")
        ordering = ("code",)
        constraints = [
            models.CheckConstraint(condition=Q(plausible_min__lt=models.F("plausible_max")),
                                   name="measurement_type_range_ordered"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_en if translation.get_language() == "en" else self.name_sv


class AcceptedUnit(models.Model):
    """A unit a value may be reported in: canonical = (value − subtract) × multiply."""

    type = models.ForeignKey(MeasurementType, verbose_name=_("type"), on_delete=models.CASCADE,
                             related_name="units")
    unit = models.CharField(_("unit"), max_length=16)
    subtract = models.DecimalField(_("subtract"), max_digits=20, decimal_places=10, default=0)
    multiply = models.DecimalField(_("multiply by"), max_digits=20, decimal_places=10,
                                   default=1)

    class Meta:
        verbose_name = _("accepted unit")
        verbose_name_plural = _("accepted units")
        constraints = [
            models.UniqueConstraint(fields=["type", "unit"], name="accepted_unit_unique"),
            models.CheckConstraint(condition=~Q(multiply=0), name="accepted_unit_nonzero"),
        ]

    def __str__(self) -> str:
        return self.unit


class ReporterKind(models.TextChoices):
    LAB = "lab", _("Laboratory")
    PROVIDER = "provider", _("Provider")
    PREPATIENT = "prepatient", _("Prepatient")
    CASEWORKER = "caseworker", _("Caseworker")
    DERIVED = "derived", _("Derived by the platform")


# Who reported a value, as criteria and the settlement format name its source.
SOURCE_OF = {
    ReporterKind.LAB: "lab",
    ReporterKind.PROVIDER: "provider",
    ReporterKind.DERIVED: "provider",
    ReporterKind.PREPATIENT: "self",
    ReporterKind.CASEWORKER: "self",
}


class Measurement(models.Model):
    """One value. Append-only; a correction supersedes, never overwrites."""

    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.PROTECT, related_name="measurements")
    type = models.ForeignKey(MeasurementType, verbose_name=_("type"), on_delete=models.PROTECT,
                             related_name="+")
    value = models.DecimalField(_("value (canonical unit)"), max_digits=10, decimal_places=3)
    reported_value = models.DecimalField(_("reported value"), max_digits=10, decimal_places=3)
    reported_unit = models.CharField(_("reported unit"), max_length=16)
    taken_on = models.DateField(_("taken on"))
    received_at = models.DateTimeField(_("received"), default=clock.now)
    reporter_kind = models.CharField(_("reported by"), max_length=12,
                                     choices=ReporterKind.choices)
    reporter = models.CharField(
        _("reporter"), max_length=64,
        help_text=_("Who exactly: provider:<id>, lab:<name>, prepatient, caseworker:<id>."),
    )
    provider = models.ForeignKey(Provider, verbose_name=_("provider"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    source_reference = models.CharField(
        _("source reference"), max_length=100, blank=True,
        help_text=_("The lab's sample ID or the provider's idempotency key."),
    )
    supersedes = models.OneToOneField(
        "self", verbose_name=_("corrects"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="superseded_by",
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("measurement")
        verbose_name_plural = _("measurements")
        constraints = [
            models.UniqueConstraint(
                fields=["reporter", "source_reference"], name="measurement_source_once",
                condition=~Q(source_reference=""),
            ),
            models.CheckConstraint(condition=~Q(supersedes=models.F("id")),
                                   name="measurement_not_self_superseding"),
        ]
        indexes = [
            # "latest value of type T per prepatient" and a prepatient's history
            models.Index(fields=["prepatient", "type", "-taken_on"], name="measurement_latest"),
            # "values of type T in a date window" (outcome windows, charts)
            models.Index(fields=["type", "taken_on"], name="measurement_window"),
        ]

    def __str__(self) -> str:
        return f"{self.type.code} {self.value} {self.taken_on}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValueError("Measurements are append-only: record a correction instead.")
        super().save(*args, **kwargs)


class SafetyNotice(models.Model):
    """An HbA1c at or above the care threshold: the prepatient and provider are told
    to seek care, once per episode. An episode ends with a value below it."""

    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.PROTECT, related_name="safety_notices")
    measurement = models.OneToOneField(Measurement, verbose_name=_("triggering value"),
                                       on_delete=models.PROTECT, related_name="safety_notice")
    provider = models.ForeignKey(Provider, verbose_name=_("provider told"), null=True,
                                 blank=True, on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField(_("raised"), default=clock.now)
    prepatient_notified_at = models.DateTimeField(_("prepatient notified"), null=True,
                                                  blank=True)
    closed_by = models.OneToOneField(Measurement, verbose_name=_("closed by value"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("safety notice")
        verbose_name_plural = _("safety notices")
        constraints = [
            models.UniqueConstraint(fields=["prepatient"], condition=Q(closed_by__isnull=True),
                                    name="safety_notice_one_open_episode"),
        ]

    def __str__(self) -> str:
        return f"{self.prepatient} {self.raised_at:%Y-%m-%d}"


class FollowUpReminder(models.Model):
    """A reminder sent before a due date; the unique key makes sending idempotent."""

    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.CASCADE, related_name="+")
    due_on = models.DateField(_("due date"))
    sent_at = models.DateTimeField(_("sent"), default=clock.now)

    class Meta:
        verbose_name = _("follow-up reminder")
        verbose_name_plural = _("follow-up reminders")
        constraints = [models.UniqueConstraint(fields=["prepatient", "due_on"],
                                               name="reminder_once_per_due_date")]

    def __str__(self) -> str:
        return f"{self.prepatient} {self.due_on}"


class FollowUpDue(models.Model):
    """One due date of a prepatient's follow-up schedule and whether its set is complete.

    Index 0 is the baseline set (T=0), due a grace period after enrollment;
    index k is due k follow-up intervals after enrollment. A value counts for
    the due date whose window contains the day it was taken.
    """

    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.CASCADE, related_name="followups")
    index = models.PositiveSmallIntegerField(_("number"))
    due_on = models.DateField(_("due date"))
    window_start = models.DateField(_("window from"))
    window_end = models.DateField(_("window to"))
    completed_at = models.DateTimeField(_("complete since"), null=True, blank=True)

    class Meta:
        verbose_name = _("follow-up due date")
        verbose_name_plural = _("follow-up due dates")
        ordering = ("prepatient", "index")
        constraints = [
            models.UniqueConstraint(fields=["prepatient", "index"], name="followup_due_unique"),
            models.CheckConstraint(condition=Q(window_start__lte=models.F("window_end")),
                                   name="followup_window_ordered"),
        ]
        indexes = [
            models.Index(fields=["due_on"], name="followup_open_due",
                         condition=Q(completed_at__isnull=True)),
            models.Index(fields=["prepatient", "window_start"], name="followup_window"),
        ]

    def __str__(self) -> str:
        return f"{self.prepatient} #{self.index} {self.due_on}"

    @property
    def is_baseline(self) -> bool:
        return self.index == 0
