"""The follow-up schedule and its deadlines (SPEC §3.2).

A prepatient owes a set of measurements after enrollment and then at every
interval until the end of the individual programme:

- set 0, the baseline (T=0), is due ``grace_days`` after enrollment; values
  taken from the enrollment day to that due date (both included) count;
- set k (k = 1 … programme_months // interval_months) is due k × interval
  calendar months after enrollment, always counted from the enrollment date
  (never chained, clamped to month ends: 31 Jan + 3 months is 30 Apr and
  + 6 months is 31 Jul); values taken after the previous due date up to and
  including this one count (when the baseline's due date falls on or after
  set 1's, set 1's window is its due day alone).

A set is complete when every required measure has a value in its window.
An incomplete set is **overdue** from the day after its due date; the
prepatient is **excluded** once today is later than the due date plus the
grace period (a reinstatement forgives deadlines that passed before it); a
**reminder** is due from ``days_before`` days before the due date up to the
due date while the set is incomplete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from prevention_engine.dates import add_months


@dataclass(frozen=True)
class FollowUpSet:
    """One set of the schedule: its number, due date and window (both ends included)."""

    index: int
    due_on: date
    window_start: date
    window_end: date


def due_dates(*, enrolled_on: date, interval_months: int, programme_months: int) -> list[date]:
    """The due dates after the baseline: enrolled_on + k × interval calendar months,
    k = 1 … programme_months // interval_months, anchored on ``enrolled_on``."""
    if interval_months <= 0:
        raise ValueError("interval_months must be positive")
    if programme_months < 0:
        raise ValueError("programme_months must not be negative")
    count = programme_months // interval_months
    return [add_months(enrolled_on, k * interval_months) for k in range(1, count + 1)]


def schedule(*, enrolled_on: date, interval_months: int, programme_months: int,
             grace_days: int) -> list[FollowUpSet]:
    """Every set a prepatient enrolled on ``enrolled_on`` owes, baseline first."""
    if grace_days < 0:
        raise ValueError("grace_days must not be negative")
    baseline_due = enrolled_on + timedelta(days=grace_days)
    sets = [FollowUpSet(0, baseline_due, enrolled_on, baseline_due)]
    previous = baseline_due
    for index, due in enumerate(due_dates(enrolled_on=enrolled_on,
                                          interval_months=interval_months,
                                          programme_months=programme_months), start=1):
        start = previous + timedelta(days=1)
        sets.append(FollowUpSet(index, due, min(start, due), due))
        previous = due
    return sets


def missing_types(
    required: Iterable[str], taken: Mapping[str, Iterable[date]], start: date, end: date
) -> list[str]:
    """The required measure codes with no value taken in [start, end], sorted."""
    return sorted(
        code
        for code in set(required)
        if not any(start <= day <= end for day in taken.get(code, ()))
    )


def overdue(*, due_on: date, complete: bool, today: date) -> bool:
    """The set is incomplete and its due date has passed (the due day itself is not late)."""
    return not complete and today > due_on


def exclusion_deadline(*, due_on: date, grace_days: int) -> date:
    """The last day an incomplete set may be completed before the prepatient is excluded."""
    if grace_days < 0:
        raise ValueError("grace_days must not be negative")
    return due_on + timedelta(days=grace_days)


def exclusion_due(*, due_on: date, complete: bool, today: date, grace_days: int,
                  reinstated_on: date | None = None) -> bool:
    """The set is incomplete and today is later than its exclusion deadline.

    A reinstatement forgives a deadline that passed before it (``reinstated_on``:
    the day of the latest reinstatement, if any); later deadlines count again.
    """
    deadline = exclusion_deadline(due_on=due_on, grace_days=grace_days)
    if reinstated_on is not None and deadline < reinstated_on:
        return False
    return not complete and today > deadline


def reminder_due(*, due_on: date, complete: bool, today: date, days_before: int) -> bool:
    """From ``days_before`` days before the due date up to the due date, while the set
    is incomplete (the reminder itself is sent once per due date)."""
    if days_before < 0:
        raise ValueError("days_before must not be negative")
    return not complete and due_on - timedelta(days=days_before) <= today <= due_on
