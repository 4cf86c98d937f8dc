"""Who may enroll, and when (SPEC §3, §3.1).

Every number is a programme parameter and "today" is always an argument. The
decision is a reason code (``InclusionReason``); the platform words each
reason for the person it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Literal

from prevention_engine.dates import add_months

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


def priority_end(start_date: date, priority_months: int) -> date:
    """The first day after the priority phase."""
    return add_months(start_date, priority_months)


def recruitment_end(start_date: date, recruitment_months: int) -> date:
    """The first day on which recruitment is closed (unless the cap closed it earlier)."""
    return add_months(start_date, recruitment_months)


def recruitment_phase(params: InclusionParams, day: date) -> RecruitmentPhase:
    """Where recruitment stands on ``day``; every window's end is exclusive."""
    if day < params.start_date:
        return "not_open"
    if day < priority_end(params.start_date, params.priority_months):
        return "priority"
    if day < recruitment_end(params.start_date, params.recruitment_months):
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


def seek_care(params: InclusionParams, hba1c: Decimal | None) -> bool:
    """A sample at or above the care threshold: the person is told to seek care."""
    return hba1c is not None and hba1c >= params.seek_care_hba1c


def inclusion_reason(
    params: InclusionParams, candidate: InclusionCandidate, *, today: date, enrolled_count: int
) -> InclusionReason:
    """May the candidate enroll today, with ``enrolled_count`` already enrolled?

    The checks run in a fixed order and the first that fails gives the reason:
    already enrolled, consent, recruitment not open or closed, the cap, no
    sample, HbA1c below the range, at or above the care threshold, above the
    range, and in the priority phase the priority criteria. ``INCLUDED`` when
    every check passes.
    """
    phase = recruitment_phase(params, today)
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
