"""The inclusion decision, tested at every boundary the SPEC draws (§3, §3.1):
41/42/47/48 mmol/mol, ages 20/60, BMI above 25, the phases' first and last days, the cap."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from prevention_engine.inclusion import (
    InclusionCandidate,
    InclusionParams,
    InclusionReason,
    inclusion_reason,
    is_priority_candidate,
    priority_end,
    recruitment_end,
    recruitment_phase,
    seek_care,
)

D = Decimal

PARAMS = InclusionParams(
    start_date=date(2026, 1, 1), recruitment_months=12, priority_months=6, cap=30_000,
    inclusion_hba1c_min=D("42"), inclusion_hba1c_max=D("47"), seek_care_hba1c=D("48"),
    priority_bmi_above=D("25"), priority_age_min=20, priority_age_max=60,
)
PRIORITY = InclusionCandidate(
    consent_valid=True, hba1c=D("44"), age=45, bmi=D("28.0"), in_vulnerable_area=True,
    already_enrolled=False,
)
NOT_PRIORITY = replace(PRIORITY, in_vulnerable_area=False)

PRIORITY_DAY = date(2026, 3, 1)
OPEN_DAY = date(2026, 9, 1)
CLOSED_DAY = date(2027, 3, 1)


def decide(
    candidate: InclusionCandidate = PRIORITY, *, today: date = PRIORITY_DAY,
    enrolled_count: int = 0, params: InclusionParams = PARAMS,
) -> InclusionReason:
    return inclusion_reason(params, candidate, today=today, enrolled_count=enrolled_count)


@pytest.mark.parametrize("day,phase", [
    (date(2025, 12, 31), "not_open"),
    (date(2026, 1, 1), "priority"),
    (date(2026, 6, 30), "priority"),
    (date(2026, 7, 1), "open"),
    (date(2026, 12, 31), "open"),
    (date(2027, 1, 1), "closed"),
])
def test_recruitment_phases_start_on_their_first_day_and_end_before_the_next(
    day: date, phase: str
) -> None:
    assert recruitment_phase(PARAMS, day) == phase


def test_the_phases_end_on_the_first_day_after_them_clamped_to_month_ends() -> None:
    assert priority_end(date(2026, 1, 1), 6) == date(2026, 7, 1)
    assert recruitment_end(date(2026, 1, 1), 12) == date(2027, 1, 1)
    assert priority_end(date(2026, 8, 31), 6) == date(2027, 2, 28)


@pytest.mark.parametrize("day,reason", [
    (date(2025, 12, 31), InclusionReason.NOT_OPEN),
    (date(2026, 1, 1), InclusionReason.INCLUDED),
    (date(2026, 12, 31), InclusionReason.INCLUDED),
    (date(2027, 1, 1), InclusionReason.CLOSED),
])
def test_enrollment_is_possible_from_day_zero_up_to_the_last_day_of_twelve_months(
    day: date, reason: InclusionReason
) -> None:
    assert decide(today=day) is reason


@pytest.mark.parametrize("day,reason", [
    (date(2026, 1, 1), InclusionReason.NOT_PRIORITY),
    (date(2026, 6, 30), InclusionReason.NOT_PRIORITY),
    (date(2026, 7, 1), InclusionReason.INCLUDED),
    (date(2026, 12, 31), InclusionReason.INCLUDED),
])
def test_a_non_priority_candidate_waits_until_the_priority_phase_is_over(
    day: date, reason: InclusionReason
) -> None:
    assert decide(NOT_PRIORITY, today=day) is reason


@pytest.mark.parametrize("hba1c,reason,care", [
    ("41", InclusionReason.BELOW_RANGE, False),
    ("41.9", InclusionReason.BELOW_RANGE, False),
    ("42", InclusionReason.INCLUDED, False),
    ("47", InclusionReason.INCLUDED, False),
    ("47.5", InclusionReason.ABOVE_RANGE, False),
    ("48", InclusionReason.DIABETES, True),
    ("75", InclusionReason.DIABETES, True),
])
def test_hba1c_from_42_to_47_inclusive_is_included_and_48_means_seek_care(
    hba1c: str, reason: InclusionReason, care: bool
) -> None:
    assert decide(replace(PRIORITY, hba1c=D(hba1c))) is reason
    assert seek_care(PARAMS, D(hba1c)) is care


def test_without_a_sample_no_one_is_told_to_seek_care() -> None:
    assert seek_care(PARAMS, None) is False


@pytest.mark.parametrize("candidate,today,enrolled_count,reason", [
    (replace(PRIORITY, already_enrolled=True), PRIORITY_DAY, 0,
     InclusionReason.ALREADY_ENROLLED),
    (replace(PRIORITY, consent_valid=False), PRIORITY_DAY, 0, InclusionReason.NO_CONSENT),
    (PRIORITY, CLOSED_DAY, 0, InclusionReason.CLOSED),
    (PRIORITY, date(2025, 6, 1), 0, InclusionReason.NOT_OPEN),
    (PRIORITY, PRIORITY_DAY, 30_000, InclusionReason.CAP_REACHED),
    (NOT_PRIORITY, PRIORITY_DAY, 0, InclusionReason.DIABETES),
])
def test_a_sample_of_48_calls_for_care_whatever_else_stops_the_enrollment(
    candidate: InclusionCandidate, today: date, enrolled_count: int, reason: InclusionReason
) -> None:
    candidate = replace(candidate, hba1c=D("48"))
    assert decide(candidate, today=today, enrolled_count=enrolled_count) is reason
    assert seek_care(PARAMS, candidate.hba1c)


@pytest.mark.parametrize("enrolled_count,reason", [
    (29_999, InclusionReason.INCLUDED),
    (30_000, InclusionReason.CAP_REACHED),
    (30_001, InclusionReason.CAP_REACHED),
])
def test_the_last_place_under_the_cap_can_be_taken_and_no_more(
    enrolled_count: int, reason: InclusionReason
) -> None:
    assert decide(enrolled_count=enrolled_count) is reason
    assert decide(NOT_PRIORITY, today=OPEN_DAY, enrolled_count=enrolled_count) is reason


@pytest.mark.parametrize("age,priority", [(19, False), (20, True), (60, True), (61, False)])
def test_priority_ages_run_from_20_to_60_inclusive(age: int, priority: bool) -> None:
    candidate = replace(PRIORITY, age=age)
    assert is_priority_candidate(PARAMS, candidate) is priority
    expected = InclusionReason.INCLUDED if priority else InclusionReason.NOT_PRIORITY
    assert decide(candidate) is expected


@pytest.mark.parametrize("bmi,priority", [("24.9", False), ("25", False), ("25.0", False),
                                          ("25.1", True)])
def test_priority_needs_a_bmi_strictly_above_25(bmi: str, priority: bool) -> None:
    candidate = replace(PRIORITY, bmi=D(bmi))
    assert is_priority_candidate(PARAMS, candidate) is priority
    expected = InclusionReason.INCLUDED if priority else InclusionReason.NOT_PRIORITY
    assert decide(candidate) is expected


def test_priority_needs_a_registered_address_in_a_vulnerable_area() -> None:
    assert is_priority_candidate(PARAMS, PRIORITY)
    assert not is_priority_candidate(PARAMS, NOT_PRIORITY)


def test_a_candidate_without_known_age_or_bmi_is_not_a_priority_candidate() -> None:
    assert not is_priority_candidate(PARAMS, replace(PRIORITY, age=None))
    assert not is_priority_candidate(PARAMS, replace(PRIORITY, bmi=None))
    assert decide(replace(PRIORITY, age=None, bmi=None)) is InclusionReason.NOT_PRIORITY
    assert decide(replace(PRIORITY, age=None, bmi=None), today=OPEN_DAY) is (
        InclusionReason.INCLUDED)


@pytest.mark.parametrize("age,bmi,area", [
    (19, "22.0", False), (61, "25.0", False), (70, "40.0", True), (45, "20.0", True),
])
def test_after_the_priority_phase_anyone_meeting_the_hba1c_criteria_is_included(
    age: int, bmi: str, area: bool
) -> None:
    candidate = replace(PRIORITY, age=age, bmi=D(bmi), in_vulnerable_area=area)
    assert decide(candidate, today=date(2026, 7, 1)) is InclusionReason.INCLUDED
    assert decide(candidate, today=OPEN_DAY) is InclusionReason.INCLUDED


def test_a_candidate_without_a_sample_waits_for_one() -> None:
    assert decide(replace(PRIORITY, hba1c=None)) is InclusionReason.NO_SAMPLE


def test_the_checks_run_in_the_documented_order() -> None:
    everything_wrong = InclusionCandidate(
        consent_valid=False, hba1c=None, age=None, bmi=None, in_vulnerable_area=False,
        already_enrolled=True,
    )
    at_cap = 30_000
    assert decide(everything_wrong, today=CLOSED_DAY, enrolled_count=at_cap) is (
        InclusionReason.ALREADY_ENROLLED)
    step = replace(everything_wrong, already_enrolled=False)
    assert decide(step, today=CLOSED_DAY, enrolled_count=at_cap) is InclusionReason.NO_CONSENT
    step = replace(step, consent_valid=True)
    assert decide(step, today=CLOSED_DAY, enrolled_count=at_cap) is InclusionReason.CLOSED
    assert decide(step, today=date(2025, 1, 1), enrolled_count=at_cap) is (
        InclusionReason.NOT_OPEN)
    assert decide(step, enrolled_count=at_cap) is InclusionReason.CAP_REACHED
    assert decide(step) is InclusionReason.NO_SAMPLE
    assert decide(replace(step, hba1c=D("40"))) is InclusionReason.BELOW_RANGE
    assert decide(replace(step, hba1c=D("50"))) is InclusionReason.DIABETES
    assert decide(replace(step, hba1c=D("47.5"))) is InclusionReason.ABOVE_RANGE
    assert decide(replace(step, hba1c=D("45"))) is InclusionReason.NOT_PRIORITY
    assert decide(replace(step, hba1c=D("45")), today=OPEN_DAY) is InclusionReason.INCLUDED


def test_the_reason_codes_are_the_ones_the_api_and_site_show() -> None:
    assert [reason.value for reason in InclusionReason] == [
        "included", "already_enrolled", "no_consent", "recruitment_not_open",
        "recruitment_closed", "cap_reached", "no_sample", "hba1c_below_range",
        "hba1c_above_range", "hba1c_diabetes", "not_priority",
    ]
