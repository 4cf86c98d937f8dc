"""The way into the programme, step by step, as the site shows it (SPEC §3.1).

Each step is done or not from what is stored; ``next_step`` says where a
person continues, so leaving and coming back days later resumes at the right
page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.programs.models import Programme
from apps.registry.models import Prepatient
from apps.registry.selectors import prepatient_referred, prepatient_screened
from apps.registry.services import deciding_sample
from apps.site import selectors


def current_programme() -> Programme | None:
    """The programme the site recruits to: the earliest that exists (one today)."""
    return selectors.programme_current()


@dataclass(frozen=True)
class Step:
    name: str  # the URL name in the ``site`` namespace
    label: str | Promise
    done: bool
    current: bool = False


def _screened(prepatient: Prepatient) -> bool:
    return prepatient_screened(prepatient=prepatient)


def _referred(prepatient: Prepatient) -> bool:
    return prepatient_referred(prepatient=prepatient)


def steps(prepatient: Prepatient) -> list[Step]:
    """The five steps with what is done; the first not done is current."""
    raw = [
        ("consent", _("Consent"), prepatient.consent_valid or prepatient.is_enrolled),
        ("identity", _("Personnummer"), prepatient.birth_date is not None),
        ("questionnaire", _("Questionnaire"), _screened(prepatient)),
        ("referral", _("Blood test"), deciding_sample(prepatient) is not None),
        ("result", _("Result and provider"), prepatient.is_enrolled),
    ]
    current = next((name for name, _label, done in raw if not done), None)
    return [Step(name=name, label=label, done=done, current=name == current)
            for name, label, done in raw]


def next_step(prepatient: Prepatient) -> str:
    """The URL name where this person continues."""
    if prepatient.is_enrolled:
        return "site:mypage"
    for step in steps(prepatient):
        if not step.done:
            if step.name == "referral" and _screened(prepatient) and not _referred(prepatient):
                return "site:result"  # a low score: the result page explains it
            return f"site:{step.name}"
    return "site:result"
