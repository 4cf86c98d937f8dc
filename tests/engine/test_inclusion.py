"""The inclusion decision, tested at every boundary the SPEC draws (§3, §3.1), with the
first programme's shipped definition: 41/42/47/48 mmol/mol, ages 20/60, BMI above 25,
the phases' first and last days, the cap."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from prevention_engine import definition
from prevention_engine.criteria import Facts, Sample
from prevention_engine.inclusion import (
    Candidate,
    InclusionReason,
    admit,
    is_priority_candidate,
    priority_end,
    recruitment_end,
    recruitment_phase,
    seek_care,
)

D = Decimal
SHIPPED = Path(__file__).resolve().parents[2] / "data" / "programmes" / "prediabetes-2026.json"
TERMS = definition.parse(json.loads(SHIPPED.read_text("utf-8")))
PARAMS = TERMS.timeline
BELOW_RANGE, ABOVE_RANGE, DIABETES = "hba1c_below_range", "hba1c_above_range", "hba1c_diabetes"


@dataclass(frozen=True)
class Person:
    """What the first programme's rules read about a person."""

    consent_valid: bool
    hba1c: Decimal | None  # the deciding lab sample, mmol/mol
    age: int | None
    bmi: Decimal | None
    in_vulnerable_area: bool
    already_enrolled: bool

    def facts(self) -> Facts:
        samples = {"hba1c": [Sample(date(2026, 1, 1), self.hba1c, "lab")]} \
            if self.hba1c is not None else {}
        return Facts(age=self.age, bmi=self.bmi, priority_area=self.in_vulnerable_area,
                     samples=samples)

    def candidate(self) -> Candidate:
        return Candidate(consent_valid=self.consent_valid,
                         already_enrolled=self.already_enrolled, facts=self.facts())


PRIORITY = Person(
    consent_valid=True, hba1c=D("44"), age=45, bmi=D("28.0"), in_vulnerable_area=True,
    already_enrolled=False,
)
NOT_PRIORITY = replace(PRIORITY, in_vulnerable_area=False)

PRIORITY_DAY = date(2026, 3, 1)
OPEN_DAY = date(2026, 9, 1)
CLOSED_DAY = date(2027, 3, 1)


def decide(person: Person = PRIORITY, *, today: date = PRIORITY_DAY,
           enrolled_count: int = 0) -> str:
    return admit(PARAMS, cap=TERMS.cap, checks=TERMS.inclusion, priority=TERMS.priority,
                 candidate=person.candidate(), today=today,
                 enrolled_count=enrolled_count).reason


def priority(person: Person) -> bool:
    return is_priority_candidate(TERMS.priority, person.facts())


def care(person: Person) -> bool:
    return seek_care(TERMS.inclusion, person.facts())


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
    assert decide(today=day) == reason


@pytest.mark.parametrize("day,reason", [
    (date(2026, 1, 1), InclusionReason.NOT_PRIORITY),
    (date(2026, 6, 30), InclusionReason.NOT_PRIORITY),
    (date(2026, 7, 1), InclusionReason.INCLUDED),
    (date(2026, 12, 31), InclusionReason.INCLUDED),
])
def test_a_non_priority_candidate_waits_until_the_priority_phase_is_over(
    day: date, reason: InclusionReason
) -> None:
    assert decide(NOT_PRIORITY, today=day) == reason


@pytest.mark.parametrize("hba1c,reason,referred", [
    ("41", BELOW_RANGE, False),
    ("41.9", BELOW_RANGE, False),
    ("42", InclusionReason.INCLUDED, False),
    ("47", InclusionReason.INCLUDED, False),
    ("47.5", ABOVE_RANGE, False),
    ("48", DIABETES, True),
    ("75", DIABETES, True),
])
def test_hba1c_from_42_to_47_inclusive_is_included_and_48_means_seek_care(
    hba1c: str, reason: str, referred: bool
) -> None:
    assert decide(replace(PRIORITY, hba1c=D(hba1c))) == reason
    assert care(replace(PRIORITY, hba1c=D(hba1c))) is referred


def test_without_a_sample_no_one_is_told_to_seek_care() -> None:
    assert care(replace(PRIORITY, hba1c=None)) is False


@pytest.mark.parametrize("candidate,today,enrolled_count,reason", [
    (replace(PRIORITY, already_enrolled=True), PRIORITY_DAY, 0,
     InclusionReason.ALREADY_ENROLLED),
    (replace(PRIORITY, consent_valid=False), PRIORITY_DAY, 0, InclusionReason.NO_CONSENT),
    (PRIORITY, CLOSED_DAY, 0, InclusionReason.CLOSED),
    (PRIORITY, date(2025, 6, 1), 0, InclusionReason.NOT_OPEN),
    (PRIORITY, PRIORITY_DAY, 30_000, InclusionReason.CAP_REACHED),
    (NOT_PRIORITY, PRIORITY_DAY, 0, DIABETES),
])
def test_a_sample_of_48_calls_for_care_whatever_else_stops_the_enrollment(
    candidate: Person, today: date, enrolled_count: int, reason: str
) -> None:
    candidate = replace(candidate, hba1c=D("48"))
    assert decide(candidate, today=today, enrolled_count=enrolled_count) == reason
    assert care(candidate)


@pytest.mark.parametrize("enrolled_count,reason", [
    (29_999, InclusionReason.INCLUDED),
    (30_000, InclusionReason.CAP_REACHED),
    (30_001, InclusionReason.CAP_REACHED),
])
def test_the_last_place_under_the_cap_can_be_taken_and_no_more(
    enrolled_count: int, reason: InclusionReason
) -> None:
    assert decide(enrolled_count=enrolled_count) == reason
    assert decide(NOT_PRIORITY, today=OPEN_DAY, enrolled_count=enrolled_count) == reason


@pytest.mark.parametrize("age,expected_priority", [(19, False), (20, True), (60, True),
                                                   (61, False)])
def test_priority_ages_run_from_20_to_60_inclusive(age: int, expected_priority: bool) -> None:
    candidate = replace(PRIORITY, age=age)
    assert priority(candidate) is expected_priority
    expected = (InclusionReason.INCLUDED if expected_priority
                else InclusionReason.NOT_PRIORITY)
    assert decide(candidate) == expected


@pytest.mark.parametrize("bmi,expected_priority", [("24.9", False), ("25", False),
                                                   ("25.0", False), ("25.1", True)])
def test_priority_needs_a_bmi_strictly_above_25(bmi: str, expected_priority: bool) -> None:
    candidate = replace(PRIORITY, bmi=D(bmi))
    assert priority(candidate) is expected_priority
    expected = (InclusionReason.INCLUDED if expected_priority
                else InclusionReason.NOT_PRIORITY)
    assert decide(candidate) == expected


def test_priority_needs_a_registered_address_in_a_vulnerable_area() -> None:
    assert priority(PRIORITY)
    assert not priority(NOT_PRIORITY)


def test_a_candidate_without_known_age_or_bmi_is_not_a_priority_candidate() -> None:
    assert not priority(replace(PRIORITY, age=None))
    assert not priority(replace(PRIORITY, bmi=None))
    assert decide(replace(PRIORITY, age=None, bmi=None)) == InclusionReason.NOT_PRIORITY
    assert decide(replace(PRIORITY, age=None, bmi=None), today=OPEN_DAY) == (
        InclusionReason.INCLUDED)


@pytest.mark.parametrize("age,bmi,area", [
    (19, "22.0", False), (61, "25.0", False), (70, "40.0", True), (45, "20.0", True),
])
def test_after_the_priority_phase_anyone_meeting_the_hba1c_criteria_is_included(
    age: int, bmi: str, area: bool
) -> None:
    candidate = replace(PRIORITY, age=age, bmi=D(bmi), in_vulnerable_area=area)
    assert decide(candidate, today=date(2026, 7, 1)) == InclusionReason.INCLUDED
    assert decide(candidate, today=OPEN_DAY) == InclusionReason.INCLUDED


def test_a_candidate_without_a_sample_waits_for_one() -> None:
    assert decide(replace(PRIORITY, hba1c=None)) == InclusionReason.NO_SAMPLE


def test_the_checks_run_in_the_documented_order() -> None:
    everything_wrong = Person(
        consent_valid=False, hba1c=None, age=None, bmi=None, in_vulnerable_area=False,
        already_enrolled=True,
    )
    at_cap = 30_000
    assert decide(everything_wrong, today=CLOSED_DAY, enrolled_count=at_cap) == (
        InclusionReason.ALREADY_ENROLLED)
    step = replace(everything_wrong, already_enrolled=False)
    assert decide(step, today=CLOSED_DAY, enrolled_count=at_cap) == InclusionReason.NO_CONSENT
    step = replace(step, consent_valid=True)
    assert decide(step, today=CLOSED_DAY, enrolled_count=at_cap) == InclusionReason.CLOSED
    assert decide(step, today=date(2025, 1, 1), enrolled_count=at_cap) == (
        InclusionReason.NOT_OPEN)
    assert decide(step, enrolled_count=at_cap) == InclusionReason.CAP_REACHED
    assert decide(step) == InclusionReason.NO_SAMPLE
    assert decide(replace(step, hba1c=D("40"))) == BELOW_RANGE
    assert decide(replace(step, hba1c=D("50"))) == DIABETES
    assert decide(replace(step, hba1c=D("47.5"))) == ABOVE_RANGE
    assert decide(replace(step, hba1c=D("45"))) == InclusionReason.NOT_PRIORITY
    assert decide(replace(step, hba1c=D("45")), today=OPEN_DAY) == InclusionReason.INCLUDED


def test_the_reason_codes_are_the_ones_the_api_and_site_show() -> None:
    assert [reason.value for reason in InclusionReason] == [
        "included", "already_enrolled", "no_consent", "recruitment_not_open",
        "recruitment_closed", "cap_reached", "no_sample", "not_priority",
    ]
    # The first programme's own reasons are its definition's.
    assert [check.reason for check in TERMS.inclusion] == [BELOW_RANGE, DIABETES, ABOVE_RANGE]
