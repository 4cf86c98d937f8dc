from __future__ import annotations

from datetime import date

import pytest
from django.core import mail

from apps.core import clock
from apps.measurements.models import SafetyNotice
from apps.measurements.selectors import safety_notices_open
from apps.measurements.services import MeasurementInput, Reporter, measurements_record_batch
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def hba1c(prepatient, reporter, day, value, ref):
    with clock.travel_to(day):
        return measurements_record_batch(items=[MeasurementInput(
            prepatient=prepatient.pseudonym, type="hba1c", value=value, unit="mmol/mol",
            taken_on=day, source_reference=ref)], reporter=reporter)


def test_a_value_of_48_raises_one_notice_per_episode_from_any_source(
    enrolled, provider, django_capture_on_commit_callbacks,
) -> None:
    enrolled.user = UserFactory(email="person@example.invalid")
    enrolled.save()
    with django_capture_on_commit_callbacks(execute=True):
        hba1c(enrolled, Reporter.for_provider(provider), date(2026, 11, 2), "47", "a")
        assert not SafetyNotice.objects.exists()
        hba1c(enrolled, Reporter.for_lab("lab"), date(2026, 11, 3), "48", "b")
        hba1c(enrolled, Reporter.for_provider(provider), date(2026, 11, 10), "52", "c")
    notice = SafetyNotice.objects.get()
    assert notice.measurement.value == 48
    assert notice.provider == provider
    assert notice.prepatient_notified_at is not None
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["person@example.invalid"]
    assert list(safety_notices_open()) == [notice]


def test_a_value_below_closes_the_episode_and_a_new_high_value_opens_another(
    enrolled, provider,
) -> None:
    reporter = Reporter.for_provider(provider)
    hba1c(enrolled, reporter, date(2026, 11, 2), "49", "a")
    hba1c(enrolled, reporter, date(2027, 2, 2), "46", "b")
    assert not safety_notices_open().exists()
    hba1c(enrolled, reporter, date(2027, 5, 2), "50", "c")
    assert SafetyNotice.objects.count() == 2
    assert safety_notices_open().count() == 1


def test_an_older_low_value_does_not_close_a_newer_episode(enrolled, provider) -> None:
    reporter = Reporter.for_provider(provider)
    hba1c(enrolled, reporter, date(2026, 11, 10), "49", "a")
    with clock.travel_to(date(2026, 11, 12)):
        measurements_record_batch(items=[MeasurementInput(
            prepatient=enrolled.pseudonym, type="hba1c", value="45", unit="mmol/mol",
            taken_on=date(2026, 11, 1), source_reference="older")], reporter=reporter)
    assert safety_notices_open().count() == 1
