"""Who may enroll, and when (SPEC §3, §3.1), for any programme definition.

Every number is the definition's and "today" is always an argument. The decision
is a reason code: the platform's own (``InclusionReason``: consent, the recruitment
window, the cap, the priority phase) or the reason of the definition's inclusion
check that refuses (``hba1c_below_range``, ``bmi_below_range``, ``no_sample``…);
the platform words each reason for the person it is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Literal, Protocol

from prevention_engine import criteria
from prevention_engine.dates import add_months

RecruitmentPhase = Literal["not_open", "priority", "open", "closed"]


class Window(Protocol):
    """The recruitment window: a definition's timeline, or a programme's figures."""

    @property
    def start_date(self) -> date: ...

    @property
    def recruitment_months(self) -> int: ...

    @property
    def priority_months(self) -> int: ...


class InclusionReason(str, Enum):
    """The reasons the platform itself gives; a definition's checks add their own."""

    INCLUDED = "included"
    ALREADY_ENROLLED = "already_enrolled"
    NO_CONSENT = "no_consent"
    NOT_OPEN = "recruitment_not_open"
    CLOSED = "recruitment_closed"
    CAP_REACHED = "cap_reached"
    NO_SAMPLE = "no_sample"
    NOT_PRIORITY = "not_priority"


@dataclass(frozen=True)
class Candidate:
    consent_valid: bool
    already_enrolled: bool
    facts: criteria.Facts = field(default_factory=criteria.Facts)


@dataclass(frozen=True)
class Decision:
    reason: str
    seek_care: bool  # an inclusion check that refers holds, whatever the reason

    @property
    def included(self) -> bool:
        return self.reason == InclusionReason.INCLUDED


def priority_end(start_date: date, priority_months: int) -> date:
    """The first day after the priority phase."""
    return add_months(start_date, priority_months)


def recruitment_end(start_date: date, recruitment_months: int) -> date:
    """The first day on which recruitment is closed (unless the cap closed it earlier)."""
    return add_months(start_date, recruitment_months)


def recruitment_phase(window: Window, day: date) -> RecruitmentPhase:
    """Where recruitment stands on ``day``; every window's end is exclusive."""
    if day < window.start_date:
        return "not_open"
    if day < priority_end(window.start_date, window.priority_months):
        return "priority"
    if day < recruitment_end(window.start_date, window.recruitment_months):
        return "open"
    return "closed"


def is_priority_candidate(priority: tuple[criteria.Condition, ...],
                          facts: criteria.Facts) -> bool:
    """Every priority condition holds (a missing fact: it does not)."""
    return criteria.all_hold(priority, facts)


def seek_care(checks: tuple[criteria.Check, ...], facts: criteria.Facts) -> bool:
    """An inclusion check that refers holds: the person is told to seek care."""
    return bool(criteria.referrals(checks, facts))


def admit(window: Window, *, cap: int, checks: tuple[criteria.Check, ...],
          priority: tuple[criteria.Condition, ...], candidate: Candidate, today: date,
          enrolled_count: int) -> Decision:
    """May the candidate enroll today, with ``enrolled_count`` already enrolled?

    The checks run in a fixed order and the first that fails gives the reason:
    already enrolled, consent, recruitment not open or closed, the cap, the
    definition's inclusion checks in their order (``criteria.decide``), and in the
    priority phase the priority conditions. ``included`` when every check passes.
    """
    facts = candidate.facts
    care = seek_care(checks, facts)
    phase = recruitment_phase(window, today)
    reason: str
    if candidate.already_enrolled:
        reason = InclusionReason.ALREADY_ENROLLED
    elif not candidate.consent_valid:
        reason = InclusionReason.NO_CONSENT
    elif phase == "not_open":
        reason = InclusionReason.NOT_OPEN
    elif phase == "closed":
        reason = InclusionReason.CLOSED
    elif enrolled_count >= cap:
        reason = InclusionReason.CAP_REACHED
    else:
        verdict = criteria.decide(checks, facts)
        if not verdict.included:
            reason = verdict.reason
        elif phase == "priority" and not is_priority_candidate(priority, facts):
            reason = InclusionReason.NOT_PRIORITY
        else:
            reason = InclusionReason.INCLUDED
    return Decision(reason=str(reason.value if isinstance(reason, InclusionReason) else reason),
                    seek_care=care)
