"""Giving and withdrawing consent: append-only events plus the cached state."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from apps.consent.errors import ConsentConflict
from apps.consent.gate import prepatients_for_provider
from apps.consent.models import (
    ConsentAction,
    ConsentChannel,
    ConsentEvent,
    ConsentKind,
    ConsentText,
)
from apps.consent.selectors import consent_text_current
from apps.core import clock
from apps.programs.models import Programme, ProgrammeVersion
from apps.programs.selectors import version_terms
from apps.providers.models import AuthorizationDecision, DecisionKind, Provider
from apps.providers.services import LOSES_AUTHORIZATION
from apps.registry.models import Prepatient
from apps.registry.services import lifecycle_consent_withdrawn

_FLAG = {ConsentKind.DATA_SHARING: "consent_valid", ConsentKind.RESEARCH: "research_consent"}


@transaction.atomic
def consent_text_publish(*, programme: Programme, kind: ConsentKind | str, title_sv: str,
                         title_en: str, body_sv: str, body_en: str) -> ConsentText:
    """A new version; earlier versions stay as they were, for the record."""
    latest = (ConsentText.objects.select_for_update()
              .filter(programme=programme, kind=kind).order_by("-version").first())
    return ConsentText.objects.create(
        programme=programme, kind=kind, version=(latest.version + 1) if latest else 1,
        title_sv=title_sv, title_en=title_en, body_sv=body_sv, body_en=body_en,
        published_at=clock.now(),
    )


def consent_text_of_definition(*, version: ProgrammeVersion) -> ConsentText | None:
    """Publishes a published version's consent text as the programme's data-sharing
    text, unless it is the current one already; returns the new text (or None)."""
    terms = version_terms(version)
    names = terms.name
    current = consent_text_current(programme=version.programme, kind=ConsentKind.DATA_SHARING)
    if current is not None and (current.body_sv, current.body_en) == (
            terms.consent["sv"], terms.consent["en"]):
        return None
    return consent_text_publish(
        programme=version.programme, kind=ConsentKind.DATA_SHARING,
        title_sv=f"Samtycke: {names['sv']}"[:200], title_en=f"Consent: {names['en']}"[:200],
        body_sv=terms.consent["sv"], body_en=terms.consent["en"])


@transaction.atomic
def consent_grant(*, prepatient: Prepatient, text: ConsentText,
                  channel: ConsentChannel | str = ConsentChannel.WEB) -> ConsentEvent:
    """The person agrees to the current version of a consent text."""
    prepatient = Prepatient.objects.select_for_update().get(pk=prepatient.pk)
    if text.programme_id != prepatient.programme_id:
        raise ConsentConflict(_("This consent text belongs to another programme."))
    current = consent_text_current(programme=prepatient.programme, kind=text.kind)
    if current is None or current.pk != text.pk:
        raise ConsentConflict(_("The consent text has been updated. Please read the new "
                                "version."), code="consent_text_outdated")
    if text.kind == ConsentKind.RESEARCH and not prepatient.consent_valid:
        raise ConsentConflict(_("Research donation needs the data-sharing consent first."),
                              code="research_needs_data_sharing")
    event = ConsentEvent.objects.create(prepatient=prepatient, kind=text.kind,
                                        action=ConsentAction.GRANT, text=text,
                                        channel=channel, at=clock.now())
    setattr(prepatient, _FLAG[ConsentKind(text.kind)], True)
    prepatient.save(update_fields=[_FLAG[ConsentKind(text.kind)], "updated_at"])
    return event


@transaction.atomic
def consent_withdraw(*, prepatient: Prepatient, kind: ConsentKind | str,
                     channel: ConsentChannel | str = ConsentChannel.WEB,
                     actor: Any = None) -> ConsentEvent:
    """Withdrawal takes effect at once. Withdrawing data sharing also ends research
    donation and, for an enrolled person, excludes them from the programme."""
    prepatient = Prepatient.objects.select_for_update().get(pk=prepatient.pk)
    kind = ConsentKind(kind)
    if not getattr(prepatient, _FLAG[kind]):
        raise ConsentConflict(_("There is no consent to withdraw."), code="no_consent")
    now = clock.now()
    event = ConsentEvent.objects.create(prepatient=prepatient, kind=kind,
                                        action=ConsentAction.WITHDRAW, channel=channel, at=now)
    changed = [_FLAG[kind]]
    setattr(prepatient, _FLAG[kind], False)
    if kind == ConsentKind.DATA_SHARING and prepatient.research_consent:
        ConsentEvent.objects.create(prepatient=prepatient, kind=ConsentKind.RESEARCH,
                                    action=ConsentAction.WITHDRAW, channel=channel, at=now)
        prepatient.research_consent = False
        changed.append("research_consent")
    prepatient.save(update_fields=[*changed, "updated_at"])
    if kind == ConsentKind.DATA_SHARING:
        lifecycle_consent_withdrawn(prepatient=prepatient, actor=actor)
    return event


# --- A provider's authorization lost (apps.providers.signals.authorization_lost) ---------


def authorization_lost_recipients(provider: Provider) -> list[str]:
    """The email addresses of the provider's current prepatients (the consent gate's list)."""
    emails = (prepatients_for_provider(provider).exclude(user=None).exclude(user__email="")
              .order_by("user__email").values_list("user__email", flat=True).distinct())
    return list(emails)


def authorization_lost_notify(*, decision: AuthorizationDecision) -> int:
    """Emails each current prepatient of a suspended or revoked provider that they may
    choose another provider whatever the switching window; returns the number sent.

    One message per person, so that no one sees another's address.
    """
    if decision.decision not in LOSES_AUTHORIZATION:
        return 0
    provider = decision.provider
    recipients = authorization_lost_recipients(provider)
    if not recipients:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        subject = str(_("Your provider %(provider)s can no longer support you") % {
            "provider": provider.name})
        what = (_("has had its authorization suspended")
                if decision.decision == DecisionKind.SUSPEND
                else _("has had its authorization revoked"))
        body = str(_(
            "Hello! Your provider %(provider)s %(what)s in the programme. You may now choose "
            "another provider, whatever the usual switching window: sign in to the programme's "
            "website to choose one. Your measurements and your place in the programme are "
            "kept.") % {"provider": provider.name, "what": what})
    messages = [EmailMessage(subject, body, None, [email]) for email in recipients]
    with get_connection() as connection:
        return connection.send_messages(messages) or 0
