from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal

import pytest

from apps.core import clock
from apps.core.errors import InvalidInput
from apps.registry.errors import ReferralCodeNotValid
from apps.registry.models import ReferralCode, SampleSource
from apps.registry.services import (
    REFERRAL_ALPHABET,
    inclusion_sample_record_lab,
    inclusion_sample_record_self,
    screening_submit,
)
from prevention_engine.findrisc import FamilyHistory

pytestmark = pytest.mark.django_db

DAY = date(2026, 8, 3)


def answers(**changes):
    # A woman of 50: age 2, BMI 27.0 → 1, waist 85 → 3, inactive 2,
    # no daily vegetables 1, blood-pressure drugs 2, second-degree family 3 = 14.
    base = dict(height_cm=Decimal("170"), weight_kg=Decimal("78"), waist_cm=Decimal("85"),
                physically_active=False, eats_vegetables_daily=False,
                antihypertensive_medication=True, high_glucose_history=False,
                family_history=FamilyHistory.SECOND_DEGREE)
    return {**base, **changes}


@pytest.fixture
def candidate(make_candidate):
    with clock.travel_to(DAY):
        return make_candidate(born=date(1976, 1, 15), bmi=None, hba1c=None)


@pytest.mark.parametrize("changes,score,referred", [
    ({"physically_active": True}, 12, False),
    ({"eats_vegetables_daily": True}, 13, True),
    ({}, 14, True),
])
def test_a_score_at_or_above_the_threshold_earns_a_referral_code(
    candidate, changes, score: int, referred: bool
) -> None:
    with clock.travel_to(DAY):
        result = screening_submit(prepatient=candidate, **answers(**changes))
    assert result.screening.score == score
    assert result.screening.bmi == Decimal("27.0")
    assert result.screening.age == 50
    assert (result.referral_code is not None) is referred


def test_implausible_measures_are_refused_naming_the_field(candidate) -> None:
    with clock.travel_to(DAY), pytest.raises(InvalidInput) as refused:
        screening_submit(prepatient=candidate, **answers(height_cm=Decimal("17")))
    assert set(refused.value.fields) == {"height_cm"}
    assert "17" in str(refused.value.fields["height_cm"])


def test_referral_codes_are_long_readable_and_stored_only_as_a_hash(candidate) -> None:
    with clock.travel_to(DAY):
        code = screening_submit(prepatient=candidate, **answers()).referral_code
    assert code is not None
    letters = code.replace("-", "")
    assert len(letters) == 12 and set(letters) <= set(REFERRAL_ALPHABET)
    stored = ReferralCode.objects.get(prepatient=candidate)
    assert letters not in stored.code_hash and stored.hint == letters[-4:]


def test_a_lab_result_is_recorded_once_per_code(candidate) -> None:
    with clock.travel_to(DAY):
        code = screening_submit(prepatient=candidate, **answers()).referral_code
        sample = inclusion_sample_record_lab(code=code.lower(), value=Decimal("44"),
                                             taken_on=DAY, lab_reference="LAB-1")
        assert (sample.prepatient, sample.source) == (candidate, SampleSource.LAB)
        with pytest.raises(ReferralCodeNotValid) as again:
            inclusion_sample_record_lab(code=code, value=Decimal("44"), taken_on=DAY,
                                        lab_reference="LAB-2")
    assert again.value.code == "referral_code_used"


def test_an_expired_or_unknown_code_is_refused(candidate) -> None:
    with clock.travel_to(DAY):
        code = screening_submit(prepatient=candidate, **answers()).referral_code
    with clock.travel_to(DAY + timedelta(days=91)), pytest.raises(ReferralCodeNotValid) as late:
        inclusion_sample_record_lab(code=code, value=Decimal("44"), taken_on=DAY,
                                    lab_reference="LAB-1")
    assert late.value.code == "referral_code_expired"
    with clock.travel_to(DAY), pytest.raises(ReferralCodeNotValid) as unknown:
        inclusion_sample_record_lab(code="ABCD-EFGH-JKLM", value=Decimal("44"), taken_on=DAY,
                                    lab_reference="LAB-1")
    assert unknown.value.code == "referral_code_unknown"


def test_a_new_code_makes_the_older_one_stop_working(candidate) -> None:
    with clock.travel_to(DAY):
        first = screening_submit(prepatient=candidate, **answers()).referral_code
        screening_submit(prepatient=candidate, **answers())
        with pytest.raises(ReferralCodeNotValid):
            inclusion_sample_record_lab(code=first, value=Decimal("44"), taken_on=DAY,
                                        lab_reference="LAB-1")


@pytest.mark.parametrize("value", ["14.9", "195.1"])
def test_implausible_hba1c_values_are_refused(candidate, value: str) -> None:
    with clock.travel_to(DAY), pytest.raises(InvalidInput) as refused:
        inclusion_sample_record_self(prepatient=candidate, value=Decimal(value), taken_on=DAY)
    assert "value" in refused.value.fields
    assert "15–195" in str(refused.value.fields["value"])


@pytest.mark.parametrize("value", ["15", "195"])
def test_an_inclusion_sample_has_the_plausible_range_of_the_measurements(
    candidate, value: str
) -> None:
    with clock.travel_to(DAY):
        sample = inclusion_sample_record_self(prepatient=candidate, value=Decimal(value),
                                              taken_on=DAY)
    assert sample.value == Decimal(value)


def test_sample_dates_in_the_future_are_refused(candidate) -> None:
    with clock.travel_to(DAY), pytest.raises(InvalidInput) as refused:
        inclusion_sample_record_self(prepatient=candidate, value=Decimal("44"),
                                     taken_on=DAY + timedelta(days=1))
    assert "taken_on" in refused.value.fields


def test_no_personnummer_reaches_the_logs_during_registration(make_candidate, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with clock.travel_to(DAY):
        prepatient = make_candidate(born=date(1980, 2, 29))
    digits = prepatient.personnummer
    assert digits and len(digits) == 12
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert digits not in logged and digits[2:] not in logged
