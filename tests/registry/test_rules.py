"""The inclusion decision in the reader's words: every reason has a message (the
definition's own where it gives one, the platform's otherwise), and a sample of 48 adds
the advice to seek care. The reasons themselves are the engine's
(tests/engine/test_inclusion.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from apps.registry.rules import InclusionDecision
from apps.registry.rules import decide_inclusion as decide_under
from prevention_engine import definition
from prevention_engine.inclusion import InclusionReason
from tests.engine.test_inclusion import (
    ABOVE_RANGE,
    BELOW_RANGE,
    CLOSED_DAY,
    DIABETES,
    NOT_PRIORITY,
    PARAMS,
    PRIORITY,
    PRIORITY_DAY,
    TERMS,
    Person,
)
from tests.engine.test_inclusion import decide as engine_reason
from tests.factories import changed, shipped_definition

D = Decimal
REASONS = [*InclusionReason, BELOW_RANGE, ABOVE_RANGE, DIABETES]


def decide_inclusion(terms: object, person: Person, *, today: date,
                     enrolled_count: int) -> InclusionDecision:
    assert terms is PARAMS  # the first programme's shipped terms
    return decide_under(TERMS, PARAMS, cap=TERMS.cap, candidate=person.candidate(), today=today,
                        enrolled_count=enrolled_count)

CANDIDATES = {
    InclusionReason.INCLUDED: (PRIORITY, PRIORITY_DAY, 0),
    InclusionReason.ALREADY_ENROLLED: (replace(PRIORITY, already_enrolled=True),
                                       PRIORITY_DAY, 0),
    InclusionReason.NO_CONSENT: (replace(PRIORITY, consent_valid=False), PRIORITY_DAY, 0),
    InclusionReason.NOT_OPEN: (PRIORITY, date(2025, 12, 31), 0),
    InclusionReason.CLOSED: (PRIORITY, CLOSED_DAY, 0),
    InclusionReason.CAP_REACHED: (PRIORITY, PRIORITY_DAY, 30_000),
    InclusionReason.NO_SAMPLE: (replace(PRIORITY, hba1c=None), PRIORITY_DAY, 0),
    BELOW_RANGE: (replace(PRIORITY, hba1c=D("38")), PRIORITY_DAY, 0),
    ABOVE_RANGE: (replace(PRIORITY, hba1c=D("47.5")), PRIORITY_DAY, 0),
    DIABETES: (replace(PRIORITY, hba1c=D("52")), PRIORITY_DAY, 0),
    InclusionReason.NOT_PRIORITY: (NOT_PRIORITY, PRIORITY_DAY, 0),
}


@pytest.fixture(autouse=True)
def english():
    """The messages are checked in English (the default language is Swedish)."""
    with translation.override("en"):
        yield


@pytest.mark.parametrize("reason", REASONS)
def test_the_decision_is_the_engines_reason_with_a_message(reason: str) -> None:
    candidate, today, enrolled_count = CANDIDATES[reason]
    decision = decide_inclusion(PARAMS, candidate, today=today, enrolled_count=enrolled_count)
    assert decision.reason == reason == engine_reason(candidate, today=today,
                                                      enrolled_count=enrolled_count)
    assert decision.included is (reason == InclusionReason.INCLUDED)
    assert decision.seek_care is (reason == DIABETES)
    assert str(decision.heading).strip()


@pytest.mark.parametrize("hba1c,seek_care", [("47", False), ("47.9", False), ("48", True)])
def test_a_sample_of_48_or_more_calls_for_care(hba1c: str, seek_care: bool) -> None:
    decision = decide_inclusion(PARAMS, replace(PRIORITY, hba1c=D(hba1c)), today=PRIORITY_DAY,
                                enrolled_count=0)
    assert decision.seek_care is seek_care


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
    decision = decide_inclusion(
        PARAMS, replace(candidate, hba1c=D("48")), today=today, enrolled_count=enrolled_count
    )
    assert decision.reason == reason
    assert decision.seek_care is True
    assert not decision.included


def test_a_message_that_is_not_about_diabetes_still_says_to_contact_care_at_48() -> None:
    closed = decide_inclusion(
        PARAMS, replace(PRIORITY, hba1c=D("48")), today=CLOSED_DAY, enrolled_count=0
    )
    plain = decide_inclusion(PARAMS, PRIORITY, today=CLOSED_DAY, enrolled_count=0)
    with translation.override("en"):
        assert str(closed.message).startswith(str(plain.message))
        assert "health centre" in str(closed.message)
        assert "health centre" not in str(plain.message)
    with translation.override("sv"):
        assert "vårdcentral" in str(closed.message)


def test_a_candidate_without_a_sample_is_told_to_take_the_blood_test() -> None:
    decision = decide_inclusion(PARAMS, replace(PRIORITY, hba1c=None), today=PRIORITY_DAY,
                                enrolled_count=0)
    assert decision.reason == InclusionReason.NO_SAMPLE
    assert decision.seek_care is False
    assert "blood test" in str(decision.message)  # the first programme's own words


def test_the_messages_for_future_openings_name_the_day_it_opens() -> None:
    not_open = decide_inclusion(PARAMS, PRIORITY, today=date(2025, 12, 31), enrolled_count=0)
    assert "2026-01-01" in str(not_open.message)
    waiting = decide_inclusion(PARAMS, NOT_PRIORITY, today=PRIORITY_DAY, enrolled_count=0)
    assert "2026-07-01" in str(waiting.message)
    assert "between 20 and 60 years old" in str(waiting.message)


@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("language", ["sv", "en"])
def test_every_reason_comes_with_a_message_in_plain_words(reason: str, language: str) -> None:
    candidate, today, enrolled_count = CANDIDATES[reason]
    with translation.override(language):
        decision = decide_inclusion(PARAMS, candidate, today=today,
                                    enrolled_count=enrolled_count)
        assert decision.reason == reason
        message = str(decision.message)
    assert message.strip()
    for jargon in ("HbA1c", "mmol", "FINDRISC", "BMI", "cap", "prepatient"):
        assert jargon not in message


def test_without_words_of_its_own_a_definition_speaks_in_the_platforms() -> None:
    plain = definition.parse(changed(shipped_definition(), {"messages": {}}))
    below = decide_under(plain, PARAMS, cap=plain.cap, today=PRIORITY_DAY, enrolled_count=0,
                         candidate=replace(PRIORITY, hba1c=D("38")).candidate())
    assert below.reason == BELOW_RANGE and not below.included
    assert str(below.message).startswith("Your results do not meet the conditions")
    assert str(below.heading) == "This programme is not for you now"
    high = decide_under(plain, PARAMS, cap=plain.cap, today=CLOSED_DAY, enrolled_count=0,
                        candidate=replace(PRIORITY, hba1c=D("52")).candidate())
    assert "health centre" in str(high.message) and high.seek_care
