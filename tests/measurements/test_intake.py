from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from apps.consent.models import ConsentKind
from apps.consent.services import consent_withdraw
from apps.core import clock
from apps.core.errors import InvalidInput
from apps.measurements.models import Measurement
from apps.measurements.services import (
    MeasurementInput,
    Reporter,
    UnreadableItem,
    measurement_record,
    measurements_record_batch,
)
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 2)


def item(prepatient, type="hba1c", value="44", unit="mmol/mol", ref="r1", **extra):
    return MeasurementInput(prepatient=prepatient.pseudonym, type=type, value=value, unit=unit,
                            taken_on=extra.pop("taken_on", DAY), source_reference=ref, **extra)


def test_a_percent_hba1c_is_stored_in_mmol_per_mol_with_the_reported_value(enrolled) -> None:
    with clock.travel_to(DAY):
        stored = measurement_record(prepatient=enrolled, type="hba1c", value="6.0", unit="%",
                                    taken_on=DAY, reporter=Reporter.for_lab("Unilabs"),
                                    source_reference="S-1")
    assert stored.value == Decimal("42.1")
    assert (stored.reported_value, stored.reported_unit) == (Decimal("6.0"), "%")
    assert (stored.reporter_kind, stored.reporter) == ("lab", "lab:Unilabs")


def test_an_implausible_value_is_refused_naming_the_field_value_and_range(enrolled) -> None:
    with clock.travel_to(DAY), pytest.raises(InvalidInput) as refused:
        measurement_record(prepatient=enrolled, type="hba1c", value="250", unit="mmol/mol",
                           taken_on=DAY, reporter=Reporter.for_lab("lab"), source_reference="x")
    message = refused.value.fields["value"][0]
    assert "250" in message and "15" in message and "195" in message
    assert not Measurement.objects.exists()


def test_an_unknown_unit_or_type_is_refused_with_its_field(enrolled, provider) -> None:
    reporter = Reporter.for_provider(provider)
    with clock.travel_to(DAY):
        result = measurements_record_batch(items=[
            item(enrolled, unit="mg", ref="a"), item(enrolled, type="glucose", ref="b"),
        ], reporter=reporter, all_or_nothing=False)
    assert [r.status for r in result.items] == ["error", "error"]
    assert "unit" in result.items[0].errors and "mg" in result.items[0].errors["unit"][0]
    assert "type" in result.items[1].errors


def test_a_retried_batch_stores_nothing_twice_and_reports_duplicates(enrolled, provider) -> None:
    reporter = Reporter.for_provider(provider)
    batch = [item(enrolled, ref=f"k{n}", value=str(40 + n)) for n in range(5)]
    with clock.travel_to(DAY):
        first = measurements_record_batch(items=batch, reporter=reporter)
        again = measurements_record_batch(items=batch, reporter=reporter)
    assert (first.stored, first.duplicates) == (5, 0)
    assert (again.stored, again.duplicates) == (0, 5)
    assert Measurement.objects.filter(type__code="hba1c").count() == 5


def test_the_same_key_twice_in_one_batch_is_stored_once(enrolled, provider) -> None:
    with clock.travel_to(DAY):
        result = measurements_record_batch(
            items=[item(enrolled, ref="same"), item(enrolled, ref="same")],
            reporter=Reporter.for_provider(provider))
    assert [r.status for r in result.items] == ["stored", "duplicate"]


def test_the_database_refuses_the_same_source_record_twice(enrolled) -> None:
    from django.db import IntegrityError, transaction

    with clock.travel_to(DAY):
        stored = measurement_record(prepatient=enrolled, type="hba1c", value="44",
                                    unit="mmol/mol", taken_on=DAY,
                                    reporter=Reporter.for_lab("lab"), source_reference="S-9")
    copy = Measurement(prepatient=enrolled, type=stored.type, value=stored.value,
                       reported_value=stored.value, reported_unit="mmol/mol", taken_on=DAY,
                       reporter_kind="lab", reporter="lab:lab", source_reference="S-9")
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()


def test_all_or_nothing_stores_nothing_when_one_item_is_bad(enrolled, provider) -> None:
    with clock.travel_to(DAY):
        result = measurements_record_batch(
            items=[item(enrolled, ref="good"), item(enrolled, ref="bad", value="999")],
            reporter=Reporter.for_provider(provider), all_or_nothing=True)
    assert not result.committed
    assert [r.status for r in result.items] == ["not_stored", "error"]
    assert not Measurement.objects.exists()


def test_per_item_mode_stores_the_good_items(enrolled, provider) -> None:
    with clock.travel_to(DAY):
        result = measurements_record_batch(
            items=[item(enrolled, ref="good"), item(enrolled, ref="bad", value="abc")],
            reporter=Reporter.for_provider(provider), all_or_nothing=False)
    assert result.committed and result.stored == 1 and result.errors == 1
    assert "value" in result.items[1].errors


UNREADABLE = UnreadableItem(errors={"value": ["A valid number is required."]})


def test_an_unreadable_item_refuses_an_all_or_nothing_batch_in_its_place(
    enrolled, provider,
) -> None:
    with clock.travel_to(DAY):
        result = measurements_record_batch(
            items=[item(enrolled, ref="good"), UNREADABLE, item(enrolled, ref="also-good")],
            reporter=Reporter.for_provider(provider), all_or_nothing=True)
    assert not result.committed
    assert [(r.index, r.status, r.measurement_id) for r in result.items] == [
        (0, "not_stored", None), (1, "error", None), (2, "not_stored", None)]
    assert result.items[1].errors == {"value": ["A valid number is required."]}
    assert (result.stored, result.errors) == (0, 1)
    assert not Measurement.objects.exists()


def test_an_unreadable_item_in_a_per_item_batch_is_answered_at_its_index(
    enrolled, provider,
) -> None:
    with clock.travel_to(DAY):
        result = measurements_record_batch(
            items=[item(enrolled, ref="good"), UNREADABLE,
                   item(enrolled, ref="bad", value="999"), item(enrolled, ref="fine")],
            reporter=Reporter.for_provider(provider), all_or_nothing=False)
    assert result.committed
    assert [(r.index, r.status) for r in result.items] == [
        (0, "stored"), (1, "error"), (2, "error"), (3, "stored")]
    assert result.items[1].errors == {"value": ["A valid number is required."]}
    assert "value" in result.items[2].errors
    stored = {m.source_reference: m.pk for m in Measurement.objects.all()}
    assert stored == {"good": result.items[0].measurement_id,
                      "fine": result.items[3].measurement_id}


def test_a_duplicate_is_answered_with_the_id_stored_the_first_time(enrolled, provider) -> None:
    reporter = Reporter.for_provider(provider)
    with clock.travel_to(DAY):
        first = measurements_record_batch(items=[item(enrolled, ref="once")],
                                          reporter=reporter)
        again = measurements_record_batch(
            items=[item(enrolled, ref="new"), item(enrolled, ref="once"),
                   item(enrolled, ref="new")], reporter=reporter)
    stored_first = first.items[0].measurement_id
    assert stored_first == Measurement.objects.get(source_reference="once").pk
    assert [(r.status, r.measurement_id) for r in again.items] == [
        ("stored", Measurement.objects.get(source_reference="new").pk),
        ("duplicate", stored_first),
        ("duplicate", Measurement.objects.get(source_reference="new").pk),
    ]


def test_a_refused_batch_names_only_values_stored_before_for_its_duplicates(
    enrolled, provider,
) -> None:
    reporter = Reporter.for_provider(provider)
    with clock.travel_to(DAY):
        first = measurements_record_batch(items=[item(enrolled, ref="once")],
                                          reporter=reporter)
        refused = measurements_record_batch(
            items=[item(enrolled, ref="once"), item(enrolled, ref="new"),
                   item(enrolled, ref="new"), item(enrolled, ref="bad", value="999")],
            reporter=reporter, all_or_nothing=True)
    assert not refused.committed
    assert [(r.status, r.measurement_id) for r in refused.items] == [
        ("duplicate", first.items[0].measurement_id), ("not_stored", None),
        ("duplicate", None), ("error", None)]
    assert Measurement.objects.count() == 1


def test_no_values_without_valid_consent(enrolled, provider) -> None:
    consent_withdraw(prepatient=enrolled, kind=ConsentKind.DATA_SHARING)
    with clock.travel_to(DAY):
        result = measurements_record_batch(items=[item(enrolled)],
                                           reporter=Reporter.for_lab("lab"))
    assert result.items[0].status == "error"
    assert "prepatient" in result.items[0].errors
    assert not Measurement.objects.exists()


def test_a_provider_cannot_report_for_a_prepatient_listed_elsewhere(enrolled) -> None:
    other = ProviderFactory(name="Provider B")
    with clock.travel_to(DAY):
        result = measurements_record_batch(items=[item(enrolled)],
                                           reporter=Reporter.for_provider(other))
    assert "prepatient" in result.items[0].errors


def test_a_value_taken_in_the_future_is_refused(enrolled, provider) -> None:
    with clock.travel_to(DAY):
        result = measurements_record_batch(
            items=[item(enrolled, taken_on=date(2026, 11, 3))],
            reporter=Reporter.for_provider(provider))
    assert "taken_on" in result.items[0].errors


def test_a_correction_supersedes_and_the_original_stays(enrolled, provider) -> None:
    reporter = Reporter.for_provider(provider)
    with clock.travel_to(DAY):
        measurements_record_batch(items=[item(enrolled, ref="v1", value="44")],
                                  reporter=reporter)
        measurements_record_batch(items=[item(enrolled, ref="v2", value="43", corrects="v1")],
                                  reporter=reporter)
        again = measurements_record_batch(
            items=[item(enrolled, ref="v3", value="41", corrects="v1")], reporter=reporter)
    original = Measurement.objects.get(source_reference="v1")
    assert original.value == Decimal("44")
    assert original.superseded_by.source_reference == "v2"
    assert "corrects" in again.items[0].errors


def test_values_are_never_updated_in_place(enrolled) -> None:
    with clock.travel_to(DAY):
        stored = measurement_record(prepatient=enrolled, type="hba1c", value="44",
                                    unit="mmol/mol", taken_on=DAY,
                                    reporter=Reporter.for_lab("lab"), source_reference="S")
    stored.value = Decimal("40")
    with pytest.raises(ValueError, match="append-only"):
        stored.save()


def test_bmi_is_derived_from_weight_and_the_latest_height(enrolled, provider) -> None:
    reporter = Reporter.for_provider(provider)
    with clock.travel_to(DAY):
        measurements_record_batch(items=[
            item(enrolled, type="height", value="1.70", unit="m", ref="h"),
        ], reporter=reporter)
        measurements_record_batch(items=[
            item(enrolled, type="weight", value="78000", unit="g", ref="w"),
        ], reporter=reporter)
    bmi = Measurement.objects.get(type__code="bmi")
    assert bmi.value == Decimal("27.0")
    assert (bmi.reporter_kind, bmi.source_reference) == ("derived", "w#bmi")


def test_a_lab_reports_follow_up_values_only_for_enrolled_prepatients(make_candidate) -> None:
    with clock.travel_to(DAY):
        candidate = make_candidate()
        result = measurements_record_batch(items=[item(candidate)],
                                           reporter=Reporter.for_lab("lab"))
    assert "prepatient" in result.items[0].errors
