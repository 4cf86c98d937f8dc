"""The registry's pure rules, tested at every boundary the SPEC draws (§3, §3.1, §3.2, §6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from apps.registry.rules import (
    FINDRISC_MAX,
    FamilyHistory,
    FindriscAnswers,
    InclusionCandidate,
    InclusionParams,
    InclusionReason,
    body_mass_index,
    decide_inclusion,
    findrisc_score,
    individual_end_date,
    is_priority_candidate,
    provider_on,
    recruitment_phase,
    switch_allowed,
    switch_window_end,
)

D = Decimal

# ---------------------------------------------------------------- FINDRISC

LOWEST = FindriscAnswers(
    sex="F", age=30, bmi=D("22.0"), waist_cm=D("70"), physically_active=True,
    eats_vegetables_daily=True, antihypertensive_medication=False,
    high_glucose_history=False, family_history=FamilyHistory.NONE,
)
HIGHEST = FindriscAnswers(
    sex="M", age=70, bmi=D("35.0"), waist_cm=D("110"), physically_active=False,
    eats_vegetables_daily=False, antihypertensive_medication=True,
    high_glucose_history=True, family_history=FamilyHistory.FIRST_DEGREE,
)



@pytest.fixture(autouse=True)
def english():
    """The messages are checked in English (the default language is Swedish)."""
    with translation.override("en"):
        yield

def test_the_lowest_risk_answers_score_zero() -> None:
    assert findrisc_score(LOWEST) == 0


def test_the_highest_risk_answers_score_twenty_six() -> None:
    assert findrisc_score(HIGHEST) == 26 == FINDRISC_MAX


@pytest.mark.parametrize("age,points", [
    (44, 0), (45, 2), (54, 2), (55, 3), (64, 3), (65, 4),
])
@pytest.mark.parametrize("sex", ["F", "M"])
def test_age_points_change_exactly_at_each_band_boundary(sex: str, age: int, points: int) -> None:
    waist = D("70")  # below both sexes' first waist band
    assert findrisc_score(replace(LOWEST, sex=sex, waist_cm=waist, age=age)) == points


@pytest.mark.parametrize("bmi,points", [
    ("24.9", 0), ("25", 1), ("25.0", 1), ("30", 1), ("30.0", 1), ("30.1", 3),
])
@pytest.mark.parametrize("sex", ["F", "M"])
def test_bmi_points_include_both_ends_of_the_middle_band(sex: str, bmi: str, points: int) -> None:
    assert findrisc_score(replace(LOWEST, sex=sex, bmi=D(bmi))) == points


@pytest.mark.parametrize("waist,points", [
    ("93.9", 0), ("94", 3), ("102", 3), ("102.1", 4),
])
def test_waist_points_for_men_change_at_94_and_above_102(waist: str, points: int) -> None:
    assert findrisc_score(replace(LOWEST, sex="M", waist_cm=D(waist))) == points


@pytest.mark.parametrize("waist,points", [
    ("79.9", 0), ("80", 3), ("88", 3), ("88.1", 4),
])
def test_waist_points_for_women_change_at_80_and_above_88(waist: str, points: int) -> None:
    assert findrisc_score(replace(LOWEST, sex="F", waist_cm=D(waist))) == points


def test_a_waist_that_is_high_for_a_woman_can_be_low_for_a_man() -> None:
    assert findrisc_score(replace(LOWEST, sex="F", waist_cm=D("90"))) == 4
    assert findrisc_score(replace(LOWEST, sex="M", waist_cm=D("90"))) == 0


@pytest.mark.parametrize("change,points", [
    ({"physically_active": False}, 2),
    ({"eats_vegetables_daily": False}, 1),
    ({"antihypertensive_medication": True}, 2),
    ({"high_glucose_history": True}, 5),
])
def test_each_yes_or_no_answer_adds_its_own_points(change: dict[str, bool], points: int) -> None:
    assert findrisc_score(replace(LOWEST, **change)) == points


@pytest.mark.parametrize("family,points", [
    (FamilyHistory.NONE, 0),
    (FamilyHistory.SECOND_DEGREE, 3),
    (FamilyHistory.FIRST_DEGREE, 5),
])
def test_diabetes_in_the_family_scores_by_closeness_of_kin(
    family: FamilyHistory, points: int
) -> None:
    assert findrisc_score(replace(LOWEST, family_history=family)) == points


def test_a_realistic_answer_sheet_adds_up_across_all_questions() -> None:
    answers = FindriscAnswers(
        sex="M", age=58, bmi=D("27.4"), waist_cm=D("99"), physically_active=False,
        eats_vegetables_daily=True, antihypertensive_medication=True,
        high_glucose_history=False, family_history=FamilyHistory.SECOND_DEGREE,
    )
    assert findrisc_score(answers) == 3 + 1 + 3 + 2 + 0 + 2 + 0 + 3


def test_an_unknown_sex_is_refused_rather_than_scored() -> None:
    with pytest.raises(ValueError, match="sex"):
        findrisc_score(replace(LOWEST, sex="X"))


@given(
    sex=st.sampled_from(["F", "M"]),
    age=st.integers(min_value=0, max_value=130),
    bmi=st.decimals(min_value=D("10"), max_value=D("80"), places=1),
    waist=st.decimals(min_value=D("40"), max_value=D("200"), places=1),
    active=st.booleans(), vegetables=st.booleans(), medication=st.booleans(),
    glucose=st.booleans(), family=st.sampled_from(list(FamilyHistory)),
)
def test_the_score_is_always_between_zero_and_twenty_six(
    sex: str, age: int, bmi: Decimal, waist: Decimal, active: bool, vegetables: bool,
    medication: bool, glucose: bool, family: FamilyHistory,
) -> None:
    answers = FindriscAnswers(
        sex=sex, age=age, bmi=bmi, waist_cm=waist, physically_active=active,
        eats_vegetables_daily=vegetables, antihypertensive_medication=medication,
        high_glucose_history=glucose, family_history=family,
    )
    assert 0 <= findrisc_score(answers) <= 26


# ---------------------------------------------------------------- BMI


@pytest.mark.parametrize("weight,height,bmi", [
    ("80", "180", "24.7"),      # 24.691...
    ("81", "180", "25.0"),      # 25.0
    ("97.2", "180", "30.0"),
    ("75", "173.2", "25.0"),    # 25.0016...
    ("100", "200", "25.0"),
    ("72.9", "170.8", "25.0"),  # 24.9894... rounds to 25.0
])
def test_bmi_is_kilograms_per_square_metre_to_one_decimal(
    weight: str, height: str, bmi: str
) -> None:
    assert body_mass_index(weight_kg=D(weight), height_cm=D(height)) == D(bmi)


def test_bmi_rounds_an_exact_half_up() -> None:
    # 25.25 exactly: 0.0025 * 10000 = 25.25 with height 100 cm
    assert body_mass_index(weight_kg=D("25.25"), height_cm=D("100")) == D("25.3")
    assert body_mass_index(weight_kg=D("25.35"), height_cm=D("100")) == D("25.4")


@pytest.mark.parametrize("weight,height", [
    ("0", "170"), ("-70", "170"), ("70", "0"), ("70", "-170"), ("NaN", "170"),
    ("70", "Infinity"),
])
def test_bmi_refuses_weights_and_heights_that_are_not_positive(weight: str, height: str) -> None:
    with pytest.raises(ValueError):
        body_mass_index(weight_kg=D(weight), height_cm=D(height))


# ---------------------------------------------------------------- inclusion

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
    decision = decide_inclusion(params, candidate, today=today, enrolled_count=enrolled_count)
    assert decision.included == (decision.reason is InclusionReason.INCLUDED)
    assert str(decision.message).strip()
    return decision.reason


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


@pytest.mark.parametrize("hba1c,reason,seek_care", [
    ("41", InclusionReason.BELOW_RANGE, False),
    ("41.9", InclusionReason.BELOW_RANGE, False),
    ("42", InclusionReason.INCLUDED, False),
    ("47", InclusionReason.INCLUDED, False),
    ("47.5", InclusionReason.ABOVE_RANGE, False),
    ("48", InclusionReason.DIABETES, True),
    ("75", InclusionReason.DIABETES, True),
])
def test_hba1c_from_42_to_47_inclusive_is_included_and_48_means_seek_care(
    hba1c: str, reason: InclusionReason, seek_care: bool
) -> None:
    decision = decide_inclusion(
        PARAMS, replace(PRIORITY, hba1c=D(hba1c)), today=PRIORITY_DAY, enrolled_count=0
    )
    assert (decision.reason, decision.seek_care) == (reason, seek_care)
    assert decision.included is (reason is InclusionReason.INCLUDED)


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


def test_a_candidate_without_a_sample_is_told_to_take_the_blood_test() -> None:
    decision = decide_inclusion(PARAMS, replace(PRIORITY, hba1c=None), today=PRIORITY_DAY,
                                enrolled_count=0)
    assert decision.reason is InclusionReason.NO_SAMPLE
    assert decision.seek_care is False
    assert "blood test" in str(decision.message)


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


def test_the_messages_for_future_openings_name_the_day_it_opens() -> None:
    not_open = decide_inclusion(PARAMS, PRIORITY, today=date(2025, 12, 31), enrolled_count=0)
    assert "2026-01-01" in str(not_open.message)
    waiting = decide_inclusion(PARAMS, NOT_PRIORITY, today=PRIORITY_DAY, enrolled_count=0)
    assert "2026-07-01" in str(waiting.message)
    assert "between 20 and 60 years old" in str(waiting.message)


@pytest.mark.parametrize("reason", list(InclusionReason))
def test_every_reason_comes_with_a_message_in_plain_words(reason: InclusionReason) -> None:
    candidates = {
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
    candidate, today, enrolled_count = candidates[reason]
    decision = decide_inclusion(PARAMS, candidate, today=today, enrolled_count=enrolled_count)
    assert decision.reason is reason
    message = str(decision.message)
    assert message.strip()
    for jargon in ("HbA1c", "mmol", "FINDRISC", "BMI", "cap", "prepatient"):
        assert jargon not in message


# ---------------------------------------------------------------- switching and end dates


@pytest.mark.parametrize("today,allowed", [
    (date(2026, 2, 1), True),
    (date(2027, 7, 31), True),
    (date(2027, 8, 1), True),    # the last allowed day
    (date(2027, 8, 2), False),   # the day after
    (date(2028, 1, 31), False),
])
def test_switching_is_allowed_up_to_and_including_the_last_day_of_18_months(
    today: date, allowed: bool
) -> None:
    assert switch_allowed(enrolled_on=date(2026, 2, 1), switch_months=18, today=today,
                          provider_lost_authorization=False) is allowed


@pytest.mark.parametrize("today", [date(2027, 8, 2), date(2028, 1, 31), date(2028, 2, 1)])
def test_a_provider_that_lost_its_authorization_can_be_left_after_the_window(
    today: date
) -> None:
    assert switch_allowed(enrolled_on=date(2026, 2, 1), switch_months=18, today=today,
                          provider_lost_authorization=True)


def test_the_switch_window_ends_on_the_same_date_18_months_later() -> None:
    assert switch_window_end(enrolled_on=date(2026, 2, 1), switch_months=18) == date(2027, 8, 1)


def test_a_month_end_enrollment_keeps_its_window_inside_the_shorter_month() -> None:
    enrolled = date(2026, 8, 31)
    end = switch_window_end(enrolled_on=enrolled, switch_months=18)
    assert end == date(2028, 2, 29)  # a leap February
    assert switch_allowed(enrolled_on=enrolled, switch_months=18, today=end,
                          provider_lost_authorization=False)
    assert not switch_allowed(enrolled_on=enrolled, switch_months=18, today=date(2028, 3, 1),
                              provider_lost_authorization=False)
    assert switch_window_end(enrolled_on=date(2026, 1, 31), switch_months=1) == date(2026, 2, 28)


@pytest.mark.parametrize("enrolled,end", [
    (date(2026, 2, 1), date(2028, 2, 1)),
    (date(2026, 8, 31), date(2028, 8, 31)),
    (date(2026, 2, 28), date(2028, 2, 28)),
    (date(2026, 5, 31), date(2028, 5, 31)),
])
def test_the_individual_programme_ends_24_months_after_enrollment(
    enrolled: date, end: date
) -> None:
    assert individual_end_date(enrolled_on=enrolled, programme_months=24) == end


def test_a_shorter_programme_ending_in_february_is_clamped_to_its_last_day() -> None:
    assert individual_end_date(enrolled_on=date(2026, 8, 31), programme_months=18) == (
        date(2028, 2, 29))
    assert individual_end_date(enrolled_on=date(2027, 8, 31), programme_months=18) == (
        date(2029, 2, 28))


# ---------------------------------------------------------------- listings

LISTINGS = [
    ("beta", date(2026, 9, 1)),
    ("alpha", date(2026, 3, 1)),
    ("gamma", date(2027, 2, 15)),
]


@pytest.mark.parametrize("day,provider", [
    (date(2026, 2, 28), None),        # before the first listing
    (date(2026, 3, 1), "alpha"),      # the first listing's first day
    (date(2026, 8, 31), "alpha"),
    (date(2026, 9, 1), "beta"),       # the day of a switch: the new provider
    (date(2027, 2, 14), "beta"),
    (date(2027, 2, 15), "gamma"),
    (date(2030, 1, 1), "gamma"),
])
def test_the_provider_on_a_day_is_the_latest_listing_valid_that_day_in_any_order(
    day: date, provider: str | None
) -> None:
    assert provider_on(LISTINGS, day) == provider
    assert provider_on(list(reversed(LISTINGS)), day) == provider
    assert provider_on(sorted(LISTINGS, key=lambda listing: listing[1]), day) == provider


def test_without_listings_there_is_no_provider() -> None:
    assert provider_on([], date(2026, 5, 1)) is None


def test_two_listings_on_the_same_day_resolve_to_the_later_one_given() -> None:
    same_day = [("alpha", date(2026, 3, 1)), ("beta", date(2026, 3, 1))]
    assert provider_on(same_day, date(2026, 3, 1)) == "beta"
