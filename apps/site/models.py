"""What the prepatient site keeps for itself: form submissions handled once."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core import clock


class FormSubmission(models.Model):
    """A form token seen once. A second POST with the same token does nothing again.

    The token is inserted before the form is handled; the unique constraint makes
    a concurrent repeat fail at the database, and a repeat after the first
    finished is sent where the first one went.
    """

    token = models.CharField(_("token"), max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"),
                             on_delete=models.CASCADE, related_name="+")
    path = models.CharField(_("path"), max_length=200)
    created_at = models.DateTimeField(_("received"), default=clock.now)
    result_url = models.CharField(_("went to"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("form submission")
        verbose_name_plural = _("form submissions")
        indexes = [models.Index(fields=["created_at"], name="formsubmission_created")]

    def __str__(self) -> str:
        return self.token


class QuestionnaireDraft(models.Model):
    """The FINDRISC answers a person has saved so far, before sending them.

    One per prepatient. ``answers`` maps a question's name to the answer as
    cleaned (numbers as plain decimal strings, choices as their values). The
    draft is deleted when the questionnaire is sent.
    """

    prepatient = models.OneToOneField(
        "registry.Prepatient", verbose_name=_("prepatient"), on_delete=models.CASCADE,
        related_name="questionnaire_draft",
    )
    answers = models.JSONField(_("answers so far"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("saved"), default=clock.now)

    class Meta:
        verbose_name = _("questionnaire draft")
        verbose_name_plural = _("questionnaire drafts")

    def __str__(self) -> str:
        return f"{self.prepatient} ({self.updated_at:%Y-%m-%d})"
