"""The registry's rules as pure functions: screening, inclusion, switching, listings.

Nothing here reads the database or the clock: every number comes in as a
programme parameter and "today" is always an argument, so each rule can be
tested at its boundaries and re-run by an auditor (SPEC §3, §3.1, §3.2, §6).
Messages are lazy translations; they are rendered in the reader's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import TYPE_CHECKING, Literal, TypeVar

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.core.dates import add_months

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

T = TypeVar("T")

# --------------------------------------------------------------------------
# FINDRISC (SPEC §6)
# --------------------------------------------------------------------------

FINDRISC_MAX = 26
ONE_DECIMAL = Decimal("0.1")


class FamilyHistory(str, Enum):
    """FINDRISC: diabetes in the family."""

    NONE = "none"
    SECOND_DEGREE = "second"  # grandparent, aunt, uncle, cousin: 3 points
    FIRST_DEGREE = "first"  # parent, sibling, child: 5 points


@dataclass(frozen=True)
class FindriscAnswers:
    sex: str  # "F" or "M"
    age: int
    bmi: Decimal
    waist_cm: Decimal
    physically_active: bool  # at least 30 minutes every day
    eats_vegetables_daily: bool  # vegetables, fruit or berries every day
    antihypertensive_medication: bool  # ever
    high_glucose_history: bool  # ever
    family_history: FamilyHistory


def _age_points(age: int) -> int:
    if age < 45:
        return 0
    if age <= 54:
        return 2
    if age <= 64:
        return 3
    return 4


def _bmi_points(bmi: Decimal) -> int:
    if bmi < 25:
        return 0
    if bmi <= 30:
        return 1
    return 3


# (lower bound of 3 points, upper bound of 3 points), both inclusive.
_WAIST_BANDS_CM = {
    "M": (Decimal(94), Decimal(102)),
    "F": (Decimal(80), Decimal(88)),
}


def _waist_points(sex: str, waist_cm: Decimal) -> int:
    low, high = _WAIST_BANDS_CM[sex]
    if waist_cm < low:
        return 0
    if waist_cm <= high:
        return 3
    return 4


_FAMILY_POINTS = {
    FamilyHistory.NONE: 0,
    FamilyHistory.SECOND_DEGREE: 3,
    FamilyHistory.FIRST_DEGREE: 5,
}


def findrisc_score(answers: FindriscAnswers) -> int:
    """The FINDRISC score, 0 to 26; every band is inclusive as SPEC §6 writes it.

    Raises ``ValueError`` for a sex other than "F" or "M", a negative age or
    a non-finite or negative BMI or waist.
    """
    if answers.sex not in _WAIST_BANDS_CM:
        raise ValueError(f"sex must be 'F' or 'M', not {answers.sex!r}")
    if answers.age < 0:
        raise ValueError("age must not be negative")
    for name, value in (("bmi", answers.bmi), ("waist_cm", answers.waist_cm)):
        if not value.is_finite() or value < 0:
            raise ValueError(f"{name} must be a finite, non-negative number")
    score = (
        _age_points(answers.age)
        + _bmi_points(answers.bmi)
        + _waist_points(answers.sex, answers.waist_cm)
        + (0 if answers.physically_active else 2)
        + (0 if answers.eats_vegetables_daily else 1)
        + (2 if answers.antihypertensive_medication else 0)
        + (5 if answers.high_glucose_history else 0)
        + _FAMILY_POINTS[FamilyHistory(answers.family_history)]
    )
    return score


def body_mass_index(*, weight_kg: Decimal, height_cm: Decimal) -> Decimal:
    """kg/m², to one decimal rounded half up (the precision FINDRISC bands use)."""
    for name, value in (("weight_kg", weight_kg), ("height_cm", height_cm)):
        if not value.is_finite() or value <= 0:
            raise ValueError(f"{name} must be a positive number")
    bmi = weight_kg * 10_000 / (height_cm * height_cm)
    return bmi.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------
# Inclusion (SPEC §3, §3.1)
# --------------------------------------------------------------------------

RecruitmentPhase = Literal["not_open", "priority", "open", "closed"]


@dataclass(frozen=True)
class InclusionParams:
    start_date: date
    recruitment_months: int
    priority_months: int
    cap: int
    inclusion_hba1c_min: Decimal
    inclusion_hba1c_max: Decimal
    seek_care_hba1c: Decimal
    priority_bmi_above: Decimal
    priority_age_min: int
    priority_age_max: int


@dataclass(frozen=True)
class InclusionCandidate:
    consent_valid: bool
    hba1c: Decimal | None  # deciding sample, mmol/mol (lab, or verified self-report)
    age: int | None  # completed years today
    bmi: Decimal | None
    in_vulnerable_area: bool
    already_enrolled: bool


class InclusionReason(str, Enum):
    INCLUDED = "included"
    ALREADY_ENROLLED = "already_enrolled"
    NO_CONSENT = "no_consent"
    NOT_OPEN = "recruitment_not_open"
    CLOSED = "recruitment_closed"
    CAP_REACHED = "cap_reached"
    NO_SAMPLE = "no_sample"
    BELOW_RANGE = "hba1c_below_range"
    ABOVE_RANGE = "hba1c_above_range"
    DIABETES = "hba1c_diabetes"
    NOT_PRIORITY = "not_priority"


@dataclass(frozen=True)
class InclusionDecision:
    included: bool
    reason: InclusionReason
    message: StrOrPromise  # a lazy translation: plain words and what happens next
    seek_care: bool  # hba1c >= seek_care_hba1c, whatever the reason


_MESSAGES = {
    InclusionReason.INCLUDED: _(
        "Your blood test result means you can join the programme. "
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
        "We do not have a blood test result for you yet. Take the blood test at a "
        "laboratory using your referral code. If you typed in a result yourself, our "
        "staff will check it first. We will tell you when we have a result."
    ),
    InclusionReason.BELOW_RANGE: _(
        "Your blood test shows a normal blood sugar level, so this programme is not "
        "meant for you. That is good news, and you do not need to do anything more."
    ),
    InclusionReason.ABOVE_RANGE: _(
        "Your blood test shows a blood sugar level just above what this programme is "
        "meant for, so you cannot join it. Please talk to your health centre about "
        "what the result means for you."
    ),
    InclusionReason.DIABETES: _(
        "Your blood test shows a blood sugar level that may mean diabetes, so you "
        "cannot join this programme. Please contact your health centre so that they "
        "can examine you."
    ),
    InclusionReason.NOT_PRIORITY: _(
        "During its first months the programme is only open to people who live in "
        "certain areas, weigh more than is healthy for their height and are "
        "between {age_min} and {age_max} years old. If there are places left, you can sign up "
        "from {date}, when it opens to everyone."
    ),
}

_SEEK_CARE_ADVICE = _(
    "Your blood test shows a high blood sugar level. Please contact your health "
    "centre so that they can examine you."
)


def recruitment_phase(params: InclusionParams, day: date) -> RecruitmentPhase:
    """Where recruitment stands on ``day``; every window's end is exclusive."""
    if day < params.start_date:
        return "not_open"
    if day < add_months(params.start_date, params.priority_months):
        return "priority"
    if day < add_months(params.start_date, params.recruitment_months):
        return "open"
    return "closed"


def is_priority_candidate(params: InclusionParams, candidate: InclusionCandidate) -> bool:
    """Vulnerable area, BMI strictly above the limit, and age within the range (inclusive)."""
    if candidate.bmi is None or candidate.age is None:
        return False
    return (
        candidate.in_vulnerable_area
        and candidate.bmi > params.priority_bmi_above
        and params.priority_age_min <= candidate.age <= params.priority_age_max
    )


def _reason(
    params: InclusionParams, candidate: InclusionCandidate, *, phase: RecruitmentPhase,
    enrolled_count: int,
) -> InclusionReason:
    hba1c = candidate.hba1c
    if candidate.already_enrolled:
        return InclusionReason.ALREADY_ENROLLED
    if not candidate.consent_valid:
        return InclusionReason.NO_CONSENT
    if phase == "not_open":
        return InclusionReason.NOT_OPEN
    if phase == "closed":
        return InclusionReason.CLOSED
    if enrolled_count >= params.cap:
        return InclusionReason.CAP_REACHED
    if hba1c is None:
        return InclusionReason.NO_SAMPLE
    if hba1c < params.inclusion_hba1c_min:
        return InclusionReason.BELOW_RANGE
    if hba1c >= params.seek_care_hba1c:
        return InclusionReason.DIABETES
    if hba1c > params.inclusion_hba1c_max:
        return InclusionReason.ABOVE_RANGE
    if phase == "priority" and not is_priority_candidate(params, candidate):
        return InclusionReason.NOT_PRIORITY
    return InclusionReason.INCLUDED


def _message(
    params: InclusionParams, reason: InclusionReason, *, seek_care: bool
) -> StrOrPromise:
    text = _MESSAGES[reason]
    message: StrOrPromise
    if reason is InclusionReason.NOT_OPEN:
        message = format_lazy(text, date=params.start_date.isoformat())
    elif reason is InclusionReason.NOT_PRIORITY:
        message = format_lazy(
            text,
            age_min=params.priority_age_min,
            age_max=params.priority_age_max,
            date=add_months(params.start_date, params.priority_months).isoformat(),
        )
    else:
        message = text
    if seek_care and reason is not InclusionReason.DIABETES:
        message = format_lazy("{} {}", message, _SEEK_CARE_ADVICE)
    return message


def decide_inclusion(
    params: InclusionParams, candidate: InclusionCandidate, *, today: date, enrolled_count: int
) -> InclusionDecision:
    """May the candidate enroll today, with ``enrolled_count`` already enrolled?

    The checks run in a fixed order and the first that fails gives the reason.
    ``seek_care`` is judged on the sample alone, whatever the reason, and any
    message then also tells the person to contact their health centre.
    """
    seek_care = candidate.hba1c is not None and candidate.hba1c >= params.seek_care_hba1c
    reason = _reason(
        params, candidate, phase=recruitment_phase(params, today), enrolled_count=enrolled_count
    )
    return InclusionDecision(
        included=reason is InclusionReason.INCLUDED,
        reason=reason,
        message=_message(params, reason, seek_care=seek_care),
        seek_care=seek_care,
    )


# --------------------------------------------------------------------------
# During the programme (SPEC §3.2, §3.3)
# --------------------------------------------------------------------------


def switch_window_end(*, enrolled_on: date, switch_months: int) -> date:
    """The last day on which a prepatient may switch provider freely (inclusive)."""
    return add_months(enrolled_on, switch_months)


def switch_allowed(
    *, enrolled_on: date, switch_months: int, today: date, provider_lost_authorization: bool
) -> bool:
    """Free switching up to and including the window's last day; always if the
    current provider has lost its authorization."""
    if provider_lost_authorization:
        return True
    return today <= switch_window_end(enrolled_on=enrolled_on, switch_months=switch_months)


def individual_end_date(*, enrolled_on: date, programme_months: int) -> date:
    """The day the individual programme ends: enrollment plus its length in months."""
    return add_months(enrolled_on, programme_months)


def provider_on(listings: Sequence[tuple[T, date]], day: date) -> T | None:
    """Who the prepatient is listed with on ``day``.

    ``listings`` are ``(provider, valid_from)`` pairs in any order; the latest
    listing valid on ``day`` wins (a listing is valid from its first day). Of
    two listings with the same ``valid_from`` the later in ``listings`` wins.
    ``None`` before the first listing.
    """
    found: T | None = None
    found_from: date | None = None
    for provider, valid_from in listings:
        if valid_from <= day and (found_from is None or valid_from >= found_from):
            found, found_from = provider, valid_from
    return found
