"""Prepatients and their history: screening, inclusion, listings, lifecycle.

History is append-only (listings, lifecycle events, inclusion samples);
``Prepatient`` caches the current state in columns that the services update
in the same transaction as the event that changes it.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.core.crypto import EncryptedTextField
from apps.core.models import TimeStampedModel
from apps.programs.models import Programme, ProgrammeVersion, Questionnaire
from apps.providers.models import Provider


def new_pseudonym() -> str:
    """The programme ID shown to providers and auditors instead of the personnummer."""
    return f"pp-{secrets.token_hex(5)}"


class Sex(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")


class PrepatientState(models.TextChoices):
    CANDIDATE = "candidate", _("Candidate (not yet enrolled)")
    ACTIVE = "active", _("Enrolled, active")
    COMPLETED = "completed", _("Completed")
    DROPPED_OUT = "dropped_out", _("Dropped out")
    EXCLUDED = "excluded", _("Excluded")
    DECEASED = "deceased", _("Deceased")


class Prepatient(TimeStampedModel):
    """A person in one programme, from consent to the end of their 24 months."""

    programme = models.ForeignKey(
        Programme, verbose_name=_("programme"), on_delete=models.PROTECT,
        related_name="prepatients",
    )
    # The published version of the programme's definition the person joined under: it
    # keeps applying to them when a later version is published.
    programme_version = models.ForeignKey(
        ProgrammeVersion, verbose_name=_("programme version"), on_delete=models.PROTECT,
        related_name="enrollments", null=True, blank=True, editable=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("account"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="prepatients",
    )
    pseudonym = models.CharField(
        _("programme ID"), max_length=16, unique=True, default=new_pseudonym, editable=False
    )
    # Identity (SPEC §6): encrypted at rest, found through the keyed hash.
    personnummer = EncryptedTextField(_("personnummer"), null=True, blank=True, editable=False)
    personnummer_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True, editable=False)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True,
                           editable=False)
    postcode = models.CharField(_("registered postcode"), max_length=5, blank=True,
                                db_index=True, editable=False)
    in_vulnerable_area = models.BooleanField(_("lives in a vulnerable area"), default=False,
                                             editable=False)

    # Cached state, written only by services (registry and consent).
    state = models.CharField(_("state"), max_length=16, choices=PrepatientState.choices,
                             default=PrepatientState.CANDIDATE, editable=False)
    consent_valid = models.BooleanField(
        _("data-sharing consent valid"), default=False, editable=False,
        help_text=_("Kept by the consent service; read it through the consent gate."),
    )
    research_consent = models.BooleanField(_("donates data to research"), default=False,
                                           editable=False)
    enrolled_on = models.DateField(_("enrolled on"), null=True, blank=True, editable=False)
    end_date = models.DateField(_("individual end date"), null=True, blank=True,
                                editable=False)
    baseline_sample = models.ForeignKey(
        "InclusionSample", verbose_name=_("baseline sample (T=0)"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+", editable=False,
    )
    current_provider = models.ForeignKey(
        Provider, verbose_name=_("current provider"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="current_prepatients", editable=False,
    )

    class Meta:
        verbose_name = _("prepatient")
        verbose_name_plural = _("prepatients")
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "personnummer_hash"], name="prepatient_one_per_person",
                condition=Q(personnummer_hash__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["programme", "user"], name="prepatient_one_per_account",
                condition=Q(user__isnull=False),
            ),
            models.CheckConstraint(
                condition=Q(enrolled_on__isnull=True, end_date__isnull=True)
                | Q(enrolled_on__isnull=False, end_date__gt=models.F("enrolled_on")),
                name="prepatient_enrollment_dates",
            ),
            models.CheckConstraint(
                condition=Q(state="candidate")
                | Q(enrolled_on__isnull=False),
                name="prepatient_enrolled_states_have_a_date",
            ),
        ]
        indexes = [
            models.Index(fields=["programme", "state"], name="prepatient_state"),
            models.Index(fields=["current_provider", "state"], name="prepatient_provider"),
            models.Index(fields=["programme", "enrolled_on"], name="prepatient_enrolled"),
        ]

    def __str__(self) -> str:
        return self.pseudonym

    @property
    def personnummer_masked(self) -> str:
        """Year and month only: enough to tell people apart, never the whole number."""
        if not self.birth_date:
            return "—"
        return f"{self.birth_date:%Y%m}**-****"

    @property
    def is_enrolled(self) -> bool:
        return self.enrolled_on is not None


class VulnerableAreaPostcode(models.Model):
    """Postcodes of the programme's vulnerable areas (kept by caseworkers)."""

    programme = models.ForeignKey(Programme, verbose_name=_("programme"),
                                  on_delete=models.CASCADE, related_name="vulnerable_postcodes")
    postcode = models.CharField(_("postcode"), max_length=5)
    area_name = models.CharField(_("area"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("vulnerable-area postcode")
        verbose_name_plural = _("vulnerable-area postcodes")
        constraints = [
            models.UniqueConstraint(fields=["programme", "postcode"],
                                    name="vulnerable_postcode_unique"),
            models.CheckConstraint(condition=Q(postcode__regex=r"^[0-9]{5}$"),
                                   name="vulnerable_postcode_five_digits"),
        ]

    def __str__(self) -> str:
        return f"{self.postcode[:3]} {self.postcode[3:]}"


class ResponseSource(models.TextChoices):
    SELF = "self", _("the person")
    PROVIDER = "provider", _("a provider")


class QuestionnaireResponse(models.Model):
    """A person's answers to one version of a questionnaire, with the score the
    definition gives them (FHIR ``QuestionnaireResponse``). Append-only: a new answer
    is a new response."""

    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.CASCADE,
                                   related_name="questionnaire_responses")
    questionnaire = models.ForeignKey(Questionnaire, verbose_name=_("questionnaire"),
                                      on_delete=models.PROTECT, related_name="responses")
    answers = models.JSONField(_("answers"))  # link_id → option code or decimal string
    score = models.IntegerField(_("score"))
    band = models.CharField(_("score band"), max_length=32, blank=True)
    source = models.CharField(_("answered by"), max_length=16, choices=ResponseSource.choices,
                              default=ResponseSource.SELF)
    submitted_at = models.DateTimeField(_("submitted"), default=clock.now)

    class Meta:
        verbose_name = _("questionnaire response")
        verbose_name_plural = _("questionnaire responses")
        indexes = [models.Index(fields=["prepatient", "questionnaire", "-submitted_at"],
                                name="response_latest")]

    def __str__(self) -> str:
        return f"{self.questionnaire} {self.score} ({self.submitted_at:%Y-%m-%d})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Questionnaire responses are append-only.")
        super().save(*args, **kwargs)


class Screening(models.Model):
    """One FINDRISC questionnaire with the measures it needs. Append-only."""

    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.CASCADE, related_name="screenings")
    submitted_at = models.DateTimeField(_("submitted"), default=clock.now)
    age = models.PositiveSmallIntegerField(_("age"))
    height_cm = models.DecimalField(_("height (cm)"), max_digits=4, decimal_places=1)
    weight_kg = models.DecimalField(_("weight (kg)"), max_digits=4, decimal_places=1)
    waist_cm = models.DecimalField(_("waist (cm)"), max_digits=4, decimal_places=1)
    bmi = models.DecimalField(_("BMI"), max_digits=4, decimal_places=1)
    physically_active = models.BooleanField(_("at least 30 minutes of activity daily"))
    eats_vegetables_daily = models.BooleanField(_("vegetables, fruit or berries every day"))
    antihypertensive_medication = models.BooleanField(_("ever on blood-pressure medication"))
    high_glucose_history = models.BooleanField(_("ever had high blood glucose"))
    family_history = models.CharField(_("family history of diabetes"), max_length=8)
    score = models.PositiveSmallIntegerField(_("FINDRISC score"))

    class Meta:
        verbose_name = _("screening")
        verbose_name_plural = _("screenings")
        constraints = [models.CheckConstraint(condition=Q(score__lte=26),
                                              name="screening_score_range")]

    def __str__(self) -> str:
        return f"FINDRISC {self.score} ({self.submitted_at:%Y-%m-%d})"


class ReferralCode(models.Model):
    """A single-use code for a self-referred blood test; stored hashed."""

    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.CASCADE, related_name="referral_codes")
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(_("code ends with"), max_length=4, editable=False)
    issued_at = models.DateTimeField(_("issued"), default=clock.now)
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")

    def __str__(self) -> str:
        return f"…{self.hint}"


class SampleSource(models.TextChoices):
    LAB = "lab", _("Laboratory")
    SELF = "self", _("Self-reported")


class InclusionSample(models.Model):
    """A measured value taken to decide inclusion (the measure an inclusion check of the
    programme's definition reads, in its stored unit), from a laboratory through a
    referral code or typed in by the person. Append-only; self-reported values decide
    nothing until a caseworker verifies them."""

    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.CASCADE, related_name="inclusion_samples")
    measure = models.SlugField(_("measure"), max_length=32)
    value = models.DecimalField(_("value"), max_digits=10, decimal_places=3)
    taken_on = models.DateField(_("taken on"))
    received_at = models.DateTimeField(_("received"), default=clock.now)
    source = models.CharField(_("source"), max_length=8, choices=SampleSource.choices)
    referral = models.ForeignKey(ReferralCode, verbose_name=_("referral code"), null=True,
                                 blank=True, on_delete=models.PROTECT, related_name="+")
    lab_reference = models.CharField(_("lab sample ID"), max_length=64, blank=True)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("verified by"),
                                    null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    verification_note = models.CharField(_("verification note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("inclusion sample")
        verbose_name_plural = _("inclusion samples")
        # The caseworkers' queue (self-reported, not yet verified), newest first.
        indexes = [models.Index(fields=["id"], name="inclusion_awaiting",
                                condition=Q(source="self", verified_at__isnull=True))]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="inclusion_sample_positive"),
            models.CheckConstraint(
                condition=Q(source="self") | Q(verified_by__isnull=True),
                name="inclusion_sample_only_self_reports_are_verified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.measure} {self.get_source_display()} {self.taken_on}"

    @property
    def decides_inclusion(self) -> bool:
        return self.source == SampleSource.LAB or self.verified_at is not None


class ListingReason(models.TextChoices):
    INITIAL = "initial", _("First choice at enrollment")
    SWITCH = "switch", _("Switched by the prepatient")
    PROVIDER_LOST_AUTHORIZATION = "lost_authorization", _(
        "Switched after the provider lost its authorization")


class Listing(models.Model):
    """The prepatient is listed with a provider from ``valid_from`` until the
    next listing. Append-only: the history answers "who was the provider on D"."""

    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.CASCADE, related_name="listings")
    provider = models.ForeignKey(Provider, verbose_name=_("provider"), on_delete=models.PROTECT,
                                 related_name="listings")
    valid_from = models.DateField(_("from"))
    reason = models.CharField(_("reason"), max_length=24, choices=ListingReason.choices)
    created_at = models.DateTimeField(_("recorded"), default=clock.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True,
                              blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("listing")
        verbose_name_plural = _("listings")
        ordering = ("prepatient", "valid_from")
        constraints = [
            models.UniqueConstraint(fields=["prepatient", "valid_from"],
                                    name="listing_one_change_per_day"),
        ]
        indexes = [models.Index(fields=["provider", "valid_from"], name="listing_provider")]

    def __str__(self) -> str:
        return f"{self.prepatient} → {self.provider} ({self.valid_from})"


class LifecycleEventType(models.TextChoices):
    ENROLLED = "enrolled", _("Enrolled")
    COMPLETED = "completed", _("Completed")
    DROPPED_OUT = "dropped_out", _("Dropped out")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("Consent withdrawn")
    EXCLUDED = "excluded", _("Excluded")
    REINSTATED = "reinstated", _("Reinstated")
    DECEASED = "deceased", _("Deceased")


class ExclusionReason(models.TextChoices):
    MISSED_FOLLOWUP = "missed_followup", _("Missed follow-up")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("Consent withdrawn")
    DIABETES_DIAGNOSED = "diabetes", _("Diabetes diagnosed")
    MOVED_ABROAD = "moved_abroad", _("Moved abroad")
    OTHER = "other", _("Other (see note)")


class LifecycleEvent(models.Model):
    """A change of state with its actor and reason. Append-only."""

    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.CASCADE, related_name="lifecycle_events")
    type = models.CharField(_("event"), max_length=20, choices=LifecycleEventType.choices)
    on = models.DateField(_("on"))
    reason = models.CharField(_("reason"), max_length=20, choices=ExclusionReason.choices,
                              blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True,
                              blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("recorded"), default=clock.now)

    class Meta:
        verbose_name = _("lifecycle event")
        verbose_name_plural = _("lifecycle events")
        ordering = ("prepatient", "created_at", "pk")
        constraints = [
            models.CheckConstraint(
                condition=~Q(type="excluded") | ~Q(reason=""),
                name="lifecycle_exclusion_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.on}"


class ProviderRating(models.Model):
    """A prepatient's rating of a provider they have been listed with for a while
    (SPEC §3.6). One per prepatient and provider; giving it again changes it.
    Shown without names; ``apps.registry.selectors.may_rate`` says who may rate."""

    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.CASCADE, related_name="ratings")
    provider = models.ForeignKey(Provider, verbose_name=_("provider"), on_delete=models.CASCADE,
                                 related_name="ratings")
    stars = models.PositiveSmallIntegerField(_("stars"))
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("given"), default=clock.now)
    updated_at = models.DateTimeField(_("changed"), default=clock.now)
    # Moderation: a caseworker may hide an unsuitable comment (the stars still count).
    comment_hidden_at = models.DateTimeField(_("comment hidden"), null=True, blank=True)
    comment_hidden_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("hidden by"),
                                          null=True, blank=True, on_delete=models.PROTECT,
                                          related_name="+")
    comment_hidden_reason = models.CharField(_("why the comment is hidden"), max_length=300,
                                             blank=True)

    class Meta:
        verbose_name = _("provider rating")
        verbose_name_plural = _("provider ratings")
        constraints = [
            models.UniqueConstraint(fields=["prepatient", "provider"],
                                    name="rating_one_per_prepatient_and_provider"),
            models.CheckConstraint(condition=Q(stars__gte=1) & Q(stars__lte=5),
                                   name="rating_stars_1_to_5"),
            models.CheckConstraint(
                condition=Q(comment_hidden_at__isnull=True, comment_hidden_reason="")
                | (Q(comment_hidden_at__isnull=False, comment_hidden_by__isnull=False)
                   & ~Q(comment_hidden_reason="")),
                name="rating_hidden_comment_has_reason"),
        ]
        indexes = [models.Index(fields=["provider", "-updated_at"], name="rating_provider")]

    def __str__(self) -> str:
        return f"{self.provider} {self.stars}/5"
