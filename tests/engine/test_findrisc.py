"""FINDRISC, tested at every band boundary SPEC §6 draws, and the referral it earns."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prevention_engine.findrisc import (
    FINDRISC_MAX,
    FamilyHistory,
    FindriscAnswers,
    earns_referral,
    findrisc_score,
)

D = Decimal

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


@pytest.mark.parametrize("change", [
    {"age": -1}, {"bmi": D("-1")}, {"bmi": D("NaN")}, {"waist_cm": D("Infinity")},
])
def test_a_negative_age_or_a_measure_that_is_not_a_finite_positive_number_is_refused(
    change: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        findrisc_score(replace(LOWEST, **change))


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


@pytest.mark.parametrize("score,referred", [(0, False), (12, False), (13, True), (26, True)])
def test_a_score_of_13_or_more_earns_a_blood_test_referral(score: int, referred: bool) -> None:
    assert earns_referral(score, 13) is referred
