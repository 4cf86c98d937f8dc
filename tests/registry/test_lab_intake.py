"""A laboratory's inclusion result as it arrives (``services.inclusion_sample_receive_lab``):
the unit conversion, the 64-character sample ID, the duplicate decided under the
referral code's lock, and the typed refusals of the code."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import translation

from apps.core import clock
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.measurements import rules as measurement_rules
from apps.measurements.errors import MeasurementRefused
from apps.registry.errors import (
    ReferralCodeExpired,
    ReferralCodeNotValid,
    ReferralCodeUnknown,
    ReferralCodeUsed,
)
from apps.registry.models import InclusionSample, ReferralCode, SampleSource
from apps.registry.services import (
    LabSampleReceipt,
    inclusion_sample_receive_lab,
    inclusion_sample_record_lab,
    referral_issue,
)
from tests.registry import factories

pytestmark = pytest.mark.django_db

DAY = date(2026, 8, 3)


@pytest.fixture
def referral() -> tuple[ReferralCode, str]:
    with clock.travel_to(DAY):
        return referral_issue(prepatient=factories.candidate())


def receive(code: str, **changes: object) -> LabSampleReceipt:
    values: dict[str, object] = {"value": Decimal("6.3"), "unit": "%", "taken_on": DAY,
                                 "lab_reference": "LAB-1", **changes}
    return inclusion_sample_receive_lab(code=code, **values)


# --- Conversion -----------------------------------------------------------------------


def test_a_percent_value_is_stored_in_mmol_per_mol(referral, django_capture_on_commit_callbacks
                                                   ) -> None:
    record, code = referral
    with clock.travel_to(DAY), django_capture_on_commit_callbacks(execute=True):
        receipt = receive(code.lower())
    assert receipt.stored and not receipt.duplicate
    sample = receipt.sample
    assert (sample.prepatient, sample.value, sample.source, sample.lab_reference) == (
        record.prepatient, Decimal("45.4"), SampleSource.LAB, "LAB-1")
    record.refresh_from_db()
    assert record.used_at is not None
    assert len(mail.outbox) == 1  # the person is told their result arrived


@pytest.mark.parametrize(("value", "unit", "stored"), [
    (Decimal("44"), "mmol/mol", Decimal("44.0")),
    (Decimal("44.04"), " MMOL/MOL ", Decimal("44.0")),
    (Decimal("5.9"), "%", Decimal("41.0")),  # (5.9 - 2.15) × 10.929 = 40.98375
    (46, "mmol/mol", Decimal("46.0")),
])
def test_the_canonical_unit_is_accepted_and_values_are_rounded(
    referral, value: Decimal | int, unit: str, stored: Decimal,
) -> None:
    _record, code = referral
    with clock.travel_to(DAY):
        receipt = receive(code, value=value, unit=unit)
    assert receipt.sample.value == stored


@pytest.mark.parametrize(("value", "unit", "error"), [
    (Decimal("25"), "%", "out_of_range"),
    (Decimal("2"), "%", "out_of_range"),
    (Decimal("250"), "mmol/mol", "out_of_range"),
    (Decimal("6"), "g", "unknown_unit"),
    ("abc", "%", "not_a_number"),
])
def test_a_value_that_cannot_be_converted_is_refused_naming_the_value(
    referral, value: Decimal | str, unit: str, error: str,
) -> None:
    record, code = referral
    with clock.travel_to(DAY), pytest.raises(InvalidInput) as refused:
        receive(code, value=value, unit=unit)
    assert (refused.value.code, set(refused.value.fields)) == (error, {"value"})
    assert not InclusionSample.objects.filter(prepatient=record.prepatient).exists()
    record.refresh_from_db()
    assert record.used_at is None


@pytest.mark.parametrize("language", ["en", "sv"])
@pytest.mark.parametrize(("value", "unit"), [
    (Decimal("25"), "%"), (Decimal("250"), "mmol/mol"), (Decimal("6"), "g"), ("abc", "%"),
])
def test_a_refused_value_is_worded_as_the_measurements_word_it(
    referral, language: str, value: Decimal | str, unit: str,
) -> None:
    _record, code = referral
    with translation.override(language), clock.travel_to(DAY):
        with pytest.raises(InvalidInput) as ours:
            receive(code, value=value, unit=unit)
        with pytest.raises(MeasurementRefused) as theirs:
            measurement_rules.convert_or_refuse(measurement_rules.TYPES["hba1c"], value, unit,
                                                field="value")
        assert ours.value.as_dict() == theirs.value.as_dict()
    assert not InclusionSample.objects.exists()


def test_a_measure_the_programme_does_not_take_from_a_laboratory_is_refused(referral) -> None:
    _record, code = referral
    with clock.travel_to(DAY), pytest.raises(InvalidInput) as refused:
        receive(code, measure="weight", value=Decimal("80"), unit="kg")
    assert list(refused.value.fields) == ["type"]
    assert not InclusionSample.objects.exists()
    with clock.travel_to(DAY):
        assert receive(code, measure="hba1c").sample.measure == "hba1c"


# --- The sample ID ----------------------------------------------------------------------


def test_a_sample_id_longer_than_64_characters_is_refused(referral) -> None:
    record, code = referral
    with clock.travel_to(DAY):
        for call in (lambda: receive(code, lab_reference="X" * 65),
                     lambda: inclusion_sample_record_lab(code=code, value=Decimal("44"),
                                                         taken_on=DAY, lab_reference="X" * 65)):
            with pytest.raises(InvalidInput) as refused:
                call()
            assert set(refused.value.fields) == {"lab_reference"}
            assert "64" in str(refused.value.fields["lab_reference"])
        assert receive(code, lab_reference="X" * 64).stored
    assert InclusionSample.objects.filter(prepatient=record.prepatient).count() == 1


def test_the_sample_id_is_checked_before_the_value(referral) -> None:
    _record, code = referral
    with clock.travel_to(DAY), pytest.raises(InvalidInput) as refused:
        receive(code, lab_reference="X" * 65, value=Decimal("250"), unit="mmol/mol")
    assert set(refused.value.fields) == {"lab_reference"}


# --- Duplicates -------------------------------------------------------------------------


def test_the_same_result_again_is_a_duplicate_of_the_stored_sample(
    referral, django_capture_on_commit_callbacks,
) -> None:
    record, code = referral
    with clock.travel_to(DAY), django_capture_on_commit_callbacks(execute=True):
        first = receive(code)
        again = receive(code)
        # The same value in mmol/mol is the same result.
        in_mmol = receive(code, value=Decimal("45.4"), unit="mmol/mol")
    assert again.duplicate and not again.stored
    assert again.sample == first.sample == in_mmol.sample
    assert InclusionSample.objects.filter(prepatient=record.prepatient).count() == 1
    assert len(mail.outbox) == 1


def test_a_duplicate_is_recognised_after_the_code_expired(referral) -> None:
    record, code = referral
    with clock.travel_to(DAY):
        first = receive(code)
    with clock.travel_to(record.expires_at + timedelta(days=1)):
        assert receive(code).sample == first.sample


@pytest.mark.parametrize("changes", [
    {"lab_reference": "LAB-2"},
    {"value": Decimal("6.4")},
    {"taken_on": DAY - timedelta(days=1)},
])
def test_another_result_on_a_used_code_is_refused(referral, changes: dict[str, object]) -> None:
    _record, code = referral
    with clock.travel_to(DAY):
        receive(code)
        with pytest.raises(ReferralCodeUsed):
            receive(code, **changes)


def test_the_record_service_refuses_even_the_same_result_again(referral) -> None:
    _record, code = referral
    with clock.travel_to(DAY):
        inclusion_sample_record_lab(code=code, value=Decimal("45.4"), taken_on=DAY,
                                    lab_reference="LAB-1")
        with pytest.raises(ReferralCodeUsed):
            inclusion_sample_record_lab(code=code, value=Decimal("45.4"), taken_on=DAY,
                                        lab_reference="LAB-1")


# --- The typed refusals of the code -------------------------------------------------------


def test_an_unknown_code_is_not_found(referral) -> None:
    with clock.travel_to(DAY), pytest.raises(ReferralCodeUnknown) as refused:
        receive("ABCD-EFGH-JKLM")
    error = refused.value
    assert isinstance(error, NotFound) and isinstance(error, ReferralCodeNotValid)
    assert (error.http_status, error.code) == (404, "referral_code_unknown")
    assert str(error.message) == "The referral code is not valid."
    assert {k: str(v) for k, v in error.fields.items()} == {"code": "No referral has this code."}


def test_a_used_code_is_a_conflict(referral) -> None:
    _record, code = referral
    with clock.travel_to(DAY):
        receive(code)
        with pytest.raises(ReferralCodeUsed) as refused:
            receive(code, lab_reference="LAB-2")
    error = refused.value
    assert isinstance(error, Conflict) and isinstance(error, ReferralCodeNotValid)
    assert (error.http_status, error.code) == (409, "referral_code_used")
    assert str(error.message) == "The referral code is not valid."
    assert {k: str(v) for k, v in error.fields.items()} == {
        "code": "This code has already been used."}


def test_an_expired_code_is_a_conflict(referral) -> None:
    record, code = referral
    with clock.travel_to(record.expires_at), pytest.raises(ReferralCodeExpired) as refused:
        receive(code)
    error = refused.value
    assert isinstance(error, Conflict) and isinstance(error, ReferralCodeNotValid)
    assert (error.http_status, error.code) == (409, "referral_code_expired")
    assert str(error.message) == "The referral code is not valid."
    assert {k: str(v) for k, v in error.fields.items()} == {"code": "This code has expired."}
    assert error.as_dict()["error"]["fields"] == {"code": ["This code has expired."]}


def test_the_sample_date_is_checked_before_the_code(referral) -> None:
    with clock.travel_to(DAY), pytest.raises(InvalidInput) as refused:
        receive("ABCD-EFGH-JKLM", taken_on=DAY + timedelta(days=1))
    assert set(refused.value.fields) == {"taken_on"}
