"""The way into a programme, step by step, as the site shows it (SPEC §3.1): consent
and identity, then what the programme's definition asks for (its screening
questionnaires, a test or measurement its inclusion reads), then the result.

Each step is done or not from what is stored; ``next_step`` says where a
person continues, so leaving and coming back days later resumes at the right
page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.programs.models import Programme, Questionnaire
from apps.programs.selectors import programme_terms, screening_questionnaires
from apps.registry.models import Prepatient, SampleSource
from apps.registry.rules import definition_text
from apps.registry.selectors import prepatient_referred, prepatient_screened, scores_at
from apps.registry.services import SCREENING_FORM_ITEMS, deciding_sample, questionnaire_items
from apps.site import selectors
from prevention_engine import criteria

# The programme a person chose on the site (its code), kept in their session.
PROGRAMME_SESSION_KEY = "journey_programme"


def current_programme(request: HttpRequest | None = None) -> Programme | None:
    """The programme the site recruits to for this visitor: the one they chose (if it
    is still open to join), else the earliest."""
    chosen = request.session.get(PROGRAMME_SESSION_KEY) if request is not None else None
    if isinstance(chosen, str):
        found = selectors.programme_open(chosen)
        if found is not None:
            return found
    return selectors.programme_current()


@dataclass(frozen=True)
class WayIn:
    """The steps a programme's definition asks for, besides consent and identity."""

    questionnaires: tuple[Questionnaire, ...]  # published, the definition's screening
    screening_form: bool  # answered through the site's screening form (height, weight…)
    measures: bool  # inclusion reads a value from a laboratory or the person
    step_label: str | Promise  # what the test step is called
    lab: bool = False  # inclusion reads a laboratory value: a referral code is needed
    self_measures: tuple[str, ...] = ()  # measures the person may type in themselves


def way_in(programme: Programme) -> WayIn:
    terms = programme_terms(programme)
    questionnaires = tuple(screening_questionnaires(programme))
    # What decides inclusion (a "refer" check only tells a person to seek care).
    deciding = [check for check in terms.inclusion if check.effect == "require"]
    from_lab = criteria.measures_read(deciding, SampleSource.LAB)
    from_self = criteria.measures_read(deciding, SampleSource.SELF)
    label = (definition_text(terms.messages["step.test"]) if "step.test" in terms.messages
             else _("Test"))
    return WayIn(
        questionnaires=questionnaires,
        screening_form=any(questionnaire_items(q) == SCREENING_FORM_ITEMS
                           for q in questionnaires),
        measures=bool(from_lab or from_self), step_label=label, lab=bool(from_lab),
        self_measures=tuple(dict.fromkeys(from_self)))


def answered(prepatient: Prepatient, way: WayIn | None = None) -> bool:
    """Every screening questionnaire answered (nothing to answer: done)."""
    way = way or way_in(prepatient.programme)
    if way.screening_form:
        return _screened(prepatient)
    codes = {questionnaire.code for questionnaire in way.questionnaires}
    return codes <= set(scores_at(prepatient))


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
    """The steps the programme's definition asks for, with what is done; the first
    not done is current."""
    way = way_in(prepatient.programme)
    raw: list[tuple[str, str | Promise, bool]] = [
        ("consent", _("Consent"), prepatient.consent_valid or prepatient.is_enrolled),
        ("identity", _("Personnummer"), prepatient.birth_date is not None),
    ]
    if way.questionnaires:
        raw.append(("questionnaire" if way.screening_form else "answers", _("Questionnaire"),
                    answered(prepatient, way)))
    if way.measures:
        raw.append(("referral", way.step_label, deciding_sample(prepatient) is not None))
    raw.append(("result", _("Result and provider"), prepatient.is_enrolled))
    current = next((name for name, _label, done in raw if not done), None)
    return [Step(name=name, label=label, done=done, current=name == current)
            for name, label, done in raw]


def next_step(prepatient: Prepatient) -> str:
    """The URL name where this person continues."""
    if prepatient.is_enrolled:
        return "site:mypage"
    for step in steps(prepatient):
        if not step.done:
            if step.name == "referral" and answered(prepatient) and not _referred(prepatient):
                return "site:result"  # a low score: the result page explains it
            return f"site:{step.name}"
    return "site:result"
