"""FINDRISC, the Finnish diabetes risk score (SPEC §6), and the referral it earns.

Every band is inclusive as SPEC §6 writes it ("25–30: 1 point" holds 25.0 and
30.0); a BMI or waist between two bands (30.05) falls in the upper one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

FINDRISC_MAX = 26


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


def age_points(age: int) -> int:
    """Below 45: 0; 45–54: 2; 55–64: 3; above 64: 4."""
    if age < 45:
        return 0
    if age <= 54:
        return 2
    if age <= 64:
        return 3
    return 4


def bmi_points(bmi: Decimal) -> int:
    """Below 25: 0; 25–30: 1; above 30: 3."""
    if bmi < 25:
        return 0
    if bmi <= 30:
        return 1
    return 3


# (lower bound of 3 points, upper bound of 3 points), both inclusive, in cm.
WAIST_BANDS_CM: dict[str, tuple[Decimal, Decimal]] = {
    "M": (Decimal(94), Decimal(102)),
    "F": (Decimal(80), Decimal(88)),
}


def waist_points(sex: str, waist_cm: Decimal) -> int:
    """Men below 94: 0, 94–102: 3, above 102: 4; women below 80: 0, 80–88: 3, above 88: 4."""
    low, high = WAIST_BANDS_CM[sex]
    if waist_cm < low:
        return 0
    if waist_cm <= high:
        return 3
    return 4


FAMILY_POINTS: dict[FamilyHistory, int] = {
    FamilyHistory.NONE: 0,
    FamilyHistory.SECOND_DEGREE: 3,
    FamilyHistory.FIRST_DEGREE: 5,
}


def findrisc_score(answers: FindriscAnswers) -> int:
    """The FINDRISC score, 0 to 26.

    Raises ``ValueError`` for a sex other than "F" or "M", a negative age or
    a non-finite or negative BMI or waist.
    """
    if answers.sex not in WAIST_BANDS_CM:
        raise ValueError(f"sex must be 'F' or 'M', not {answers.sex!r}")
    if answers.age < 0:
        raise ValueError("age must not be negative")
    for name, value in (("bmi", answers.bmi), ("waist_cm", answers.waist_cm)):
        if not value.is_finite() or value < 0:
            raise ValueError(f"{name} must be a finite, non-negative number")
    return (
        age_points(answers.age)
        + bmi_points(answers.bmi)
        + waist_points(answers.sex, answers.waist_cm)
        + (0 if answers.physically_active else 2)
        + (0 if answers.eats_vegetables_daily else 1)
        + (2 if answers.antihypertensive_medication else 0)
        + (5 if answers.high_glucose_history else 0)
        + FAMILY_POINTS[FamilyHistory(answers.family_history)]
    )


def earns_referral(score: int, threshold: int) -> bool:
    """A score at or above the programme's threshold earns a blood-test referral."""
    return score >= threshold
