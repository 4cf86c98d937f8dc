"""The inclusion decision in the reader's words: every reason has a message, and a
sample of 48 adds the advice to seek care. The reasons themselves are the engine's
(tests/engine/test_inclusion.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from apps.registry.rules import decide_inclusion
from prevention_engine.inclusion import InclusionCandidate, InclusionReason, inclusion_reason
from tests.engine.test_inclusion import CLOSED_DAY, NOT_PRIORITY, PARAMS, PRIORITY, PRIORITY_DAY

D = Decimal

CANDIDATES = {
    InclusionReason.INCLUDED: (PRIORITY, PRIORITY_DAY, 0),
    InclusionReason.ALREADY_ENROLLED: (replace(PRIORITY, already_enrolled=True),
                                       PRIORITY_DAY, 0),
    InclusionReason.NO_CONSENT: (replace(PRIORITY, consent_valid=False), PRIORITY_DAY, 0),
    InclusionReason.NOT_OPEN: (PRIORITY, date(2025, 12, 31), 0),
    InclusionReason.CLOSED: (PRIORITY, CLOSED_DAY, 0),
    InclusionReason.CAP_REACHED: (PRIORITY, PRIORITY_DAY, 30_000),
    InclusionReason.NO_SAMPLE: (replace(PRIORITY, hba1c=None), PRIORITY_DAY, 0),
    InclusionReason.BELOW_RANGE: (replace(PRIORITY, hba1c=D("38")), PRIORITY_DAY, 0),
    InclusionReason.ABOVE_RANGE: (replace(PRIORITY, hba1c=D("47.5")), PRIORITY_DAY, 0),
    InclusionReason.DIABETES: (replace(PRIORITY, hba1c=D("52")), PRIORITY_DAY, 0),
    InclusionReason.NOT_PRIORITY: (NOT_PRIORITY, PRIORITY_DAY, 0),
}


@pytest.fixture(autouse=True)
def english():
    """The messages are checked in English (the default language is Swedish)."""
    with translation.override("en"):
        yield


@pytest.mark.parametrize("reason", list(InclusionReason))
def test_the_decision_is_the_engines_reason_with_a_message(reason: InclusionReason) -> None:
    candidate, today, enrolled_count = CANDIDATES[reason]
    decision = decide_inclusion(PARAMS, candidate, today=today, enrolled_count=enrolled_count)
    assert decision.reason is reason is inclusion_reason(
        PARAMS, candidate, today=today, enrolled_count=enrolled_count)
    assert decision.included is (reason is InclusionReason.INCLUDED)
    assert decision.seek_care is (reason is InclusionReason.DIABETES)


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
    (NOT_PRIORITY, PRIORITY_DAY, 0, InclusionReason.DIABETES),
])
def test_a_sample_of_48_calls_for_care_whatever_else_stops_the_enrollment(
    candidate: InclusionCandidate, today: date, enrolled_count: int, reason: InclusionReason
) -> None:
    decision = decide_inclusion(
        PARAMS, replace(candidate, hba1c=D("48")), today=today, enrolled_count=enrolled_count
    )
    assert decision.reason is reason
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
    assert decision.reason is InclusionReason.NO_SAMPLE
    assert decision.seek_care is False
    assert "blood test" in str(decision.message)


def test_the_messages_for_future_openings_name_the_day_it_opens() -> None:
    not_open = decide_inclusion(PARAMS, PRIORITY, today=date(2025, 12, 31), enrolled_count=0)
    assert "2026-01-01" in str(not_open.message)
    waiting = decide_inclusion(PARAMS, NOT_PRIORITY, today=PRIORITY_DAY, enrolled_count=0)
    assert "2026-07-01" in str(waiting.message)
    assert "between 20 and 60 years old" in str(waiting.message)


@pytest.mark.parametrize("reason", list(InclusionReason))
def test_every_reason_comes_with_a_message_in_plain_words(reason: InclusionReason) -> None:
    candidate, today, enrolled_count = CANDIDATES[reason]
    decision = decide_inclusion(PARAMS, candidate, today=today, enrolled_count=enrolled_count)
    assert decision.reason is reason
    message = str(decision.message)
    assert message.strip()
    for jargon in ("HbA1c", "mmol", "FINDRISC", "BMI", "cap", "prepatient"):
        assert jargon not in message
