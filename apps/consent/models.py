"""Consent texts (versioned) and consent events (append-only)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.programs.models import Programme
from apps.registry.models import Prepatient


class ConsentKind(models.TextChoices):
    DATA_SHARING = "data_sharing", _("Data sharing between lab, evaluator and provider")
    RESEARCH = "research", _("Donating data to research (optional)")


class ConsentText(models.Model):
    """A published version of what a person agrees to, in Swedish and English."""

    programme = models.ForeignKey(Programme, verbose_name=_("programme"),
                                  on_delete=models.PROTECT, related_name="consent_texts")
    kind = models.CharField(_("kind"), max_length=16, choices=ConsentKind.choices)
    version = models.PositiveIntegerField(_("version"))
    title_sv = models.CharField(_("title (Swedish)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    body_sv = models.TextField(_("text (Swedish)"))
    body_en = models.TextField(_("text (English)"))
    published_at = models.DateTimeField(_("published"), default=clock.now)

    class Meta:
        verbose_name = _("consent text")
        verbose_name_plural = _("consent texts")
        ordering = ("programme", "kind", "-version")
        constraints = [
            models.UniqueConstraint(fields=["programme", "kind", "version"],
                                    name="consent_text_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}"

    @property
    def title(self) -> str:
        return self.title_en if translation.get_language() == "en" else self.title_sv

    @property
    def body(self) -> str:
        return self.body_en if translation.get_language() == "en" else self.body_sv


class ConsentChannel(models.TextChoices):
    WEB = "web", _("The site")
    PAPER = "paper", _("Paper form, registered by a caseworker")
    CASEWORKER = "caseworker", _("By phone or in person, registered by a caseworker")


class ConsentAction(models.TextChoices):
    GRANT = "grant", _("Given")
    WITHDRAW = "withdraw", _("Withdrawn")


class ConsentEvent(models.Model):
    """Consent given or withdrawn, with the text version and channel. Append-only."""

    prepatient = models.ForeignKey(Prepatient, verbose_name=_("prepatient"),
                                   on_delete=models.CASCADE, related_name="consent_events")
    kind = models.CharField(_("kind"), max_length=16, choices=ConsentKind.choices)
    action = models.CharField(_("action"), max_length=8, choices=ConsentAction.choices)
    text = models.ForeignKey(ConsentText, verbose_name=_("text version"), null=True,
                             blank=True, on_delete=models.PROTECT, related_name="events")
    channel = models.CharField(_("channel"), max_length=16, choices=ConsentChannel.choices)
    at = models.DateTimeField(_("when"), default=clock.now)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        ordering = ("prepatient", "at", "pk")
        constraints = [
            models.CheckConstraint(condition=Q(action="withdraw") | Q(text__isnull=False),
                                   name="consent_grant_names_its_text"),
        ]
        indexes = [models.Index(fields=["prepatient", "kind", "at"], name="consent_history")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_action_display()} {self.at:%Y-%m-%d}"
