"""The inclusion decision in the reader's words.

The rules themselves are ``prevention_engine.inclusion`` (the ordered checks that
give a reason code, over the programme definition's criteria); this module only
words each reason: in the definition's own words where it gives them
(``messages``), otherwise in the platform's, as a lazy translation rendered in the
reader's language, and adds the advice to seek care (SPEC §3.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from prevention_engine import inclusion
from prevention_engine.definition import ProgrammeDefinition
from prevention_engine.inclusion import Candidate, InclusionReason, Window

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise


@dataclass(frozen=True)
class InclusionDecision:
    included: bool
    reason: str  # the engine's reason code
    message: StrOrPromise  # a lazy translation: plain words and what happens next
    seek_care: bool  # an inclusion check that refers holds, whatever the reason
    heading: StrOrPromise = ""  # a page heading for the decision
    care_advice: StrOrPromise = ""  # what to do about a value that calls for care


_MESSAGES = {
    InclusionReason.INCLUDED: _(
        "Your results mean you can join the programme. "
        "The next step is to choose the provider you want support from."
    ),
    InclusionReason.ALREADY_ENROLLED: _(
        "You are already taking part in the programme, so you do not need to sign up again."
    ),
    InclusionReason.NO_CONSENT: _(
        "Before you can join, you need to agree that the laboratory, your provider and "
        "the agency that follows up the programme may share your information. "
        "You can give your consent on the consent page and then continue."
    ),
    InclusionReason.NOT_OPEN: _(
        "The programme is not taking in participants yet. "
        "You can sign up from {date}, when it opens."
    ),
    InclusionReason.CLOSED: _(
        "The programme no longer takes in new participants, so you cannot join it. "
        "You do not need to do anything more."
    ),
    InclusionReason.CAP_REACHED: _(
        "The programme is full: all places have been taken, so you cannot join it. "
        "You do not need to do anything more."
    ),
    InclusionReason.NO_SAMPLE: _(
        "We do not have the result that decides whether you can join yet. If you typed "
        "in a value yourself, our staff will check it first. We will tell you when we "
        "have a result."
    ),
    InclusionReason.NOT_PRIORITY: _(
        "During its first months the programme is only open to the groups it gives "
        "priority to. If there are places left, you can sign up from {date}, when it "
        "opens to everyone."
    ),
}
_HEADINGS = {
    InclusionReason.INCLUDED: _("You can join the programme"),
    InclusionReason.NOT_PRIORITY: _("You can join later"),
    InclusionReason.CAP_REACHED: _("The programme is full"),
    InclusionReason.CLOSED: _("The programme no longer takes in participants"),
    InclusionReason.NOT_OPEN: _("The programme has not opened yet"),
    InclusionReason.NO_SAMPLE: _("We are waiting for your result"),
    InclusionReason.NO_CONSENT: _("Your consent is needed"),
    InclusionReason.ALREADY_ENROLLED: _("You are already taking part"),
}
_NOT_MET_HEADING = _("This programme is not for you now")
_CARE_HEADING = _("Contact your health centre")
_NOT_MET = _("Your results do not meet the conditions for joining this programme, so you "
             "cannot join it. You do not need to do anything more.")
_SEEK_CARE_ADVICE = _(
    "Your result is one that your health centre should look at. Please contact your "
    "health centre so that they can examine you."
)


def _in_language(texts: Mapping[str, str]) -> str:
    return texts.get((get_language() or "sv")[:2], texts["sv"])


definition_text = lazy(_in_language, str)


def _text(terms: ProgrammeDefinition, reason: str) -> StrOrPromise:
    """The definition's words for ``reason``, else the platform's."""
    if reason in terms.messages:
        return definition_text(terms.messages[reason])
    if reason in _MESSAGES:
        return _MESSAGES[InclusionReason(reason)]
    return _NOT_MET


def _heading(terms: ProgrammeDefinition, reason: str, *, referred: bool) -> StrOrPromise:
    if f"{reason}.heading" in terms.messages:
        return definition_text(terms.messages[f"{reason}.heading"])
    if reason in _HEADINGS:
        return _HEADINGS[InclusionReason(reason)]
    return _CARE_HEADING if referred else _NOT_MET_HEADING


def _referring(terms: ProgrammeDefinition) -> set[str]:
    """The reasons of the inclusion checks that refer (their words already say so)."""
    return {check.reason for check in terms.inclusion if check.effect == "refer"}


def _message(terms: ProgrammeDefinition, window: Window, reason: str, *,
             seek_care: bool) -> StrOrPromise:
    text = _text(terms, reason)
    message: StrOrPromise = text
    if reason == InclusionReason.NOT_OPEN:
        message = format_lazy(text, date=window.start_date.isoformat())
    elif reason == InclusionReason.NOT_PRIORITY:
        message = format_lazy(text, date=inclusion.priority_end(
            window.start_date, window.priority_months).isoformat())
    if seek_care and reason not in _referring(terms):
        advice = (definition_text(terms.messages["seek_care"]) if "seek_care" in terms.messages
                  else _SEEK_CARE_ADVICE)
        message = format_lazy("{} {}", message, advice)
    return message


def priority_notice(terms: ProgrammeDefinition, window: Window) -> StrOrPromise:
    """Who may join during the priority phase, and from when everyone may."""
    return _message(terms, window, InclusionReason.NOT_PRIORITY, seek_care=False)


def decide_inclusion(terms: ProgrammeDefinition, window: Window, *, cap: int,
                     candidate: Candidate, today: date,
                     enrolled_count: int) -> InclusionDecision:
    """The engine's inclusion reason under ``terms`` with its message.

    ``seek_care`` is judged on the facts alone, whatever the reason, and any
    message then also tells the person to contact their health centre.
    """
    decision = inclusion.admit(window, cap=cap, checks=terms.inclusion,
                               priority=terms.priority, candidate=candidate, today=today,
                               enrolled_count=enrolled_count)
    return InclusionDecision(
        included=decision.included,
        reason=decision.reason,
        message=_message(terms, window, decision.reason, seek_care=decision.seek_care),
        seek_care=decision.seek_care,
        heading=_heading(terms, decision.reason,
                         referred=decision.reason in _referring(terms)),
        care_advice=(definition_text(terms.messages["seek_care.box"])
                     if "seek_care.box" in terms.messages else _SEEK_CARE_ADVICE),
    )
