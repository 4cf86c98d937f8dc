from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core import clock


class User(AbstractUser):
    """Everyone who signs in: caseworkers (staff), prepatients, provider staff."""

    email = models.EmailField(_("email address"), blank=True, db_index=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        # The back-office's "staff" filter, in username order, among every prepatient's
        # account.
        indexes = [models.Index(fields=["username"], condition=models.Q(is_staff=True),
                                name="user_staff")]


class TimeStampedModel(models.Model):
    """Base model: when a row was created and last changed, by the core clock."""

    created_at = models.DateTimeField(_("created"), default=clock.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=clock.now, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.updated_at = clock.now()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "updated_at"}
        super().save(*args, **kwargs)


class AccessPurpose(models.TextChoices):
    CASEWORK = "casework", _("Casework")
    CARE = "care", _("Provider support")
    SETTLEMENT = "settlement", _("Settlement and audit")
    LAB = "lab", _("Laboratory result")
    SELF = "self", _("The person's own data")
    RESEARCH = "research", _("Research export")
    EXPORT = "export", _("Data export")


class AccessLogEntry(models.Model):
    """Who read whose personal data, when and why. Append-only.

    The subject is named by kind and id (``registry.prepatient``, ``42``) so
    that ``core`` depends on no other app. The actor is a user, an API
    organisation, or both.
    """

    at = models.DateTimeField(_("when"), default=clock.now, editable=False)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_organisation = models.CharField(_("organisation"), max_length=64, blank=True)
    subject_type = models.CharField(_("subject type"), max_length=64)
    subject_id = models.CharField(_("subject"), max_length=64)
    purpose = models.CharField(_("purpose"), max_length=16, choices=AccessPurpose.choices)
    what = models.CharField(_("what was read"), max_length=200)

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "at"], name="accesslog_subject"),
            models.Index(fields=["actor_user", "at"], name="accesslog_actor"),
            models.Index(fields=["actor_organisation", "at"], name="accesslog_org"),
            models.Index(fields=["at"], name="accesslog_at"),  # the admin's period filter
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(actor_user=None) | ~models.Q(actor_organisation=""),
                name="accesslog_has_actor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.subject_type}:{self.subject_id} ({self.purpose})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Access log entries are append-only.")
        super().save(*args, **kwargs)


class OrganisationEvent(models.Model):
    """An append-only feed of what an organisation must know (an outbox).

    Written in the same transaction as the change it reports; read by the
    organisation with a cursor (the id), so nothing is missed or repeated.
    The subject is the programme ID (pseudonym), never a personnummer.
    """

    organisation = models.CharField(_("organisation"), max_length=64)
    # One of the kinds the apps register (apps.core.events.register_kind).
    kind = models.CharField(_("event"), max_length=24)
    subject = models.CharField(_("programme ID"), max_length=32)
    occurred_on = models.DateField(_("on"))
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("recorded"), default=clock.now)

    class Meta:
        verbose_name = _("organisation event")
        verbose_name_plural = _("organisation events")
        indexes = [models.Index(fields=["organisation", "id"], name="orgevent_feed")]

    def __str__(self) -> str:
        return f"{self.organisation} {self.kind} {self.subject}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Organisation events are append-only.")
        super().save(*args, **kwargs)
