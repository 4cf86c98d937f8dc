"""Settlement runs, their lines and the payments their approval makes.

A run is prepared by one caseworker, computed by a Celery task, and approved
by another. Once approved, the run and its lines cannot change: database
triggers refuse UPDATE and DELETE (see migrations 0002 and 0004). Approving a
final run pays each provider that is final and not yet paid, once: a
``ProviderPayment`` row, at most one final payment per provider and programme
(a partial unique index). Corrections are adjustment runs whose approval pays
only the difference, each adjustment payment linked to the payment it corrects.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Trim
from django.db.models.lookups import GreaterThan
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.programs.models import Programme, ProgrammeVersion
from apps.providers.models import Provider
from apps.registry.models import Prepatient


class RunKind(models.TextChoices):
    PROVISIONAL = "provisional", _("Provisional (forecast)")
    FINAL = "final", _("Final")
    ADJUSTMENT = "adjustment", _("Adjustment of an approved run")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    COMPUTING = "computing", _("Computing")
    COMPUTED = "computed", _("Computed, awaiting approval")
    APPROVED = "approved", _("Approved")
    FAILED = "failed", _("Failed")


class SettlementRun(models.Model):
    programme = models.ForeignKey(Programme, verbose_name=_("programme"),
                                  on_delete=models.PROTECT, related_name="settlement_runs")
    # A run settles the enrollments of one version of the programme, by that version's
    # rules (empty only for runs made before programmes had versions).
    programme_version = models.ForeignKey(
        ProgrammeVersion, verbose_name=_("programme version"), on_delete=models.PROTECT,
        related_name="settlement_runs", null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=RunKind.choices)
    as_of = models.DateField(_("as of"))
    status = models.CharField(_("status"), max_length=12, choices=RunStatus.choices,
                              default=RunStatus.QUEUED)
    corrects = models.ForeignKey("self", verbose_name=_("corrects run"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="adjustments")
    note = models.CharField(_("note"), max_length=500, blank=True)
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("prepared by"),
                                    on_delete=models.PROTECT, related_name="+")
    prepared_at = models.DateTimeField(_("prepared"), default=clock.now)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("approved by"),
                                    null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    computed_at = models.DateTimeField(_("computed"), null=True, blank=True)
    method = models.CharField(_("computed by"), max_length=16, blank=True)
    total_amount = models.DecimalField(_("total amount"), max_digits=15, decimal_places=2,
                                       null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    format_version = models.PositiveSmallIntegerField(
        _("settlement format version"), default=2,
        help_text=_("The version of the settlement rules the run was computed with."))
    attempts = models.PositiveSmallIntegerField(_("computation attempts"), default=0)
    started_at = models.DateTimeField(_("computation started"), null=True, blank=True)
    enqueued_at = models.DateTimeField(
        _("handed to the workers"), null=True, blank=True,
        help_text=_("Empty while the message broker could not be reached; the run is then "
                    "queued again by the periodic check."))

    class Meta:
        verbose_name = _("settlement run")
        verbose_name_plural = _("settlement runs")
        ordering = ("-prepared_at",)
        permissions = [("approve_settlementrun", _("Can approve settlement runs"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("prepared_by")),
                name="settlement_four_eyes",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved")
                | (Q(approved_by__isnull=False) & Q(approved_at__isnull=False)),
                name="settlement_approved_has_approver",
            ),
            models.CheckConstraint(
                condition=Q(kind="adjustment", corrects__isnull=False)
                | (~Q(kind="adjustment") & Q(corrects__isnull=True)),
                name="settlement_adjustment_links_its_run",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.as_of} #{self.pk}"

    @property
    def reference(self) -> str:
        return f"{self.programme.code}-{self.as_of:%Y%m%d}-{self.pk}"

    @property
    def data_cutoff(self) -> datetime:
        """The run settles the data recorded by the moment it was prepared, so computing
        it again (after a crash, or years later for an auditor) gives the same lines."""
        return self.prepared_at


class ProviderLine(models.Model):
    run = models.ForeignKey(SettlementRun, verbose_name=_("run"), on_delete=models.PROTECT,
                            related_name="provider_lines")
    provider = models.ForeignKey(Provider, verbose_name=_("provider"), on_delete=models.PROTECT,
                                 related_name="+")
    attributed = models.PositiveIntegerField(_("attributed"))
    successes = models.PositiveIntegerField(_("successes"))
    failures = models.PositiveIntegerField(_("failures"))
    pending = models.PositiveIntegerField(_("pending"))
    final = models.BooleanField(_("final"))
    eligible = models.BooleanField(_("eligible"))
    paid_count = models.PositiveIntegerField(_("paid count"))
    amount = models.DecimalField(_("amount"), max_digits=15, decimal_places=2)

    class Meta:
        verbose_name = _("provider line")
        verbose_name_plural = _("provider lines")
        constraints = [
            models.UniqueConstraint(fields=["run", "provider"], name="provider_line_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="provider_line_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.amount}"


class PrepatientLine(models.Model):
    """One prepatient's result in a run.

    A run writes hundreds of thousands of lines in one statement, so the references
    to the run, the prepatient and the provider are checked once per statement, not
    once per row: a statement-level trigger refuses lines whose run, prepatient or
    provider does not exist, and triggers on those tables refuse to delete a row that
    lines refer to (migration 0006). Deleting through the ORM is refused too (PROTECT).
    """

    run = models.ForeignKey(SettlementRun, verbose_name=_("run"), on_delete=models.PROTECT,
                            related_name="prepatient_lines", db_constraint=False,
                            db_index=False)  # the unique (run, prepatient) index serves
    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.PROTECT, related_name="+",
                                   db_constraint=False, db_index=False)
    pseudonym = models.CharField(_("programme ID"), max_length=16)
    provider = models.ForeignKey(Provider, verbose_name=_("attributed to"), null=True,
                                 blank=True, on_delete=models.PROTECT, related_name="+",
                                 db_constraint=False, db_index=False)  # see "line_provider"
    result = models.CharField(_("result"), max_length=10)
    reason = models.CharField(_("reason"), max_length=64)
    end_date = models.DateField(_("end date"))
    decided_on = models.DateField(
        _("decided on"), null=True, blank=True,
        help_text=_("The day of the event that decided (death, dropping out, withdrawal, "
                    "exclusion)."))
    evidence = models.JSONField(
        _("evidence"), default=list, blank=True,
        help_text=_("Each outcome criterion (or the disqualifier that held) with the samples "
                    "it used, as in the auditor's result file."))

    class Meta:
        verbose_name = _("prepatient line")
        verbose_name_plural = _("prepatient lines")
        constraints = [
            models.UniqueConstraint(fields=["run", "prepatient"], name="prepatient_line_unique"),
        ]
        indexes = [models.Index(fields=["run", "provider", "result"], name="line_provider")]

    def __str__(self) -> str:
        return f"{self.pseudonym}: {self.result} ({self.reason})"


# --- Payments -------------------------------------------------------------------------


class PaymentKind(models.TextChoices):
    FINAL = "final", _("Final settlement")
    ADJUSTMENT = "adjustment", _("Adjustment (the difference)")


class ProviderPayment(models.Model):
    """What the approval of a run pays one provider. Append-only and immutable.

    A final payment settles a provider whose attributed prepatients have all been
    evaluated; there is at most one per provider and programme (a partial unique
    index), so every outcome is paid once. An adjustment pays the difference
    between its run's figure and what the provider has been paid so far, and
    corrects the provider's latest payment (each payment is corrected at most once).
    """

    programme = models.ForeignKey(Programme, verbose_name=_("programme"),
                                  on_delete=models.PROTECT, related_name="+")
    programme_version = models.ForeignKey(
        ProgrammeVersion, verbose_name=_("programme version"), on_delete=models.PROTECT,
        related_name="+", null=True, blank=True)
    provider = models.ForeignKey(Provider, verbose_name=_("provider"), on_delete=models.PROTECT,
                                 related_name="settlement_payments")
    run = models.ForeignKey(SettlementRun, verbose_name=_("run"), on_delete=models.PROTECT,
                            related_name="payments")
    line = models.OneToOneField(ProviderLine, verbose_name=_("provider line"),
                                on_delete=models.PROTECT, related_name="payment")
    kind = models.CharField(_("kind"), max_length=12, choices=PaymentKind.choices)
    amount = models.DecimalField(_("amount paid"), max_digits=15, decimal_places=2,
                                 help_text=_("An adjustment's difference may be negative "
                                             "(money to be paid back)."))
    settled_amount = models.DecimalField(_("settled amount"), max_digits=15, decimal_places=2,
                                         help_text=_("The provider's whole settlement after "
                                                     "this payment."))
    corrects = models.OneToOneField("self", verbose_name=_("corrects payment"), null=True,
                                    blank=True, on_delete=models.PROTECT,
                                    related_name="corrected_by")
    approved_at = models.DateTimeField(_("approved"), default=clock.now)

    class Meta:
        verbose_name = _("provider payment")
        verbose_name_plural = _("provider payments")
        ordering = ("programme", "provider", "approved_at", "pk")
        constraints = [
            models.UniqueConstraint(
                fields=["programme_version", "provider"], condition=Q(kind="final"),
                name="payment_one_final_per_provider",
                violation_error_message=_("This provider's outcomes have already been settled "
                                          "by an approved final run.")),
            models.CheckConstraint(
                condition=Q(kind="final", corrects__isnull=True, amount__gte=0,
                            amount=models.F("settled_amount"))
                | Q(kind="adjustment", corrects__isnull=False),
                name="payment_kind_consistent"),
            models.CheckConstraint(condition=Q(settled_amount__gte=0),
                                   name="payment_settled_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.provider} {self.amount}"


# --- Disputes ------------------------------------------------------------------------

DISPUTE_REASON_MAX = 2000


class DisputeStatus(models.TextChoices):
    OPEN = "open", _("Open")
    UPHELD = "upheld", _("Upheld")
    REJECTED = "rejected", _("Rejected")


class Dispute(models.Model):
    """A provider's objection to one prepatient line, and the caseworker's decision.

    A dispute never changes the line (lines of approved runs cannot change at
    all). An upheld dispute on an approved run is corrected by a new adjustment
    run that corrects the run; on a run not yet approved, by a new run after the
    data has been put right. ``run`` and ``provider`` repeat the line's, for
    filtering and for scoping what a provider sees.
    """

    line = models.ForeignKey(PrepatientLine, verbose_name=_("disputed line"),
                             on_delete=models.PROTECT, related_name="disputes")
    run = models.ForeignKey(SettlementRun, verbose_name=_("run"), on_delete=models.PROTECT,
                            related_name="disputes")
    provider = models.ForeignKey(Provider, verbose_name=_("provider"), on_delete=models.PROTECT,
                                 related_name="+", db_index=False)  # see "dispute_provider"
    reason = models.CharField(_("provider's reason"), max_length=DISPUTE_REASON_MAX)
    raised_at = models.DateTimeField(_("raised on"), default=clock.now)
    raised_by_key = models.ForeignKey("providers.ApiCredential", verbose_name=_("raised with key"),
                                      on_delete=models.PROTECT, related_name="+")
    raised_by_organisation = models.CharField(_("raised by"), max_length=64)
    status = models.CharField(_("status"), max_length=10, choices=DisputeStatus.choices,
                              default=DisputeStatus.OPEN)
    resolution_reason = models.CharField(_("reason for the decision"),
                                         max_length=DISPUTE_REASON_MAX, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("resolved by"),
                                    null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ("raised_at", "pk")
        permissions = [("resolve_dispute", _("Can resolve disputes of settlement lines"))]
        constraints = [
            models.UniqueConstraint(fields=["line"], condition=Q(status="open"),
                                    name="dispute_one_open_per_line",
                                    violation_error_message=_(
                                        "This line already has an open dispute.")),
            models.CheckConstraint(condition=Q(GreaterThan(Length(Trim("reason")), 0)),
                                   name="dispute_has_reason"),
            models.CheckConstraint(
                condition=Q(status="open", resolved_by__isnull=True, resolved_at__isnull=True,
                            resolution_reason="")
                | Q(Q(status__in=["upheld", "rejected"], resolved_by__isnull=False,
                      resolved_at__isnull=False),
                    GreaterThan(Length(Trim("resolution_reason")), 0)),
                name="dispute_resolution_complete",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "raised_at"], name="dispute_queue"),
            models.Index(fields=["provider", "raised_at"], name="dispute_provider"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.line.pseudonym} ({self.get_status_display()})"
