"""The registry's readers that the back-office and the site share: a personnummer looked
up by its hash, self-reported values awaiting a caseworker, referral and switching."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from apps.core import clock
from apps.programs.selectors import programme_terms, referral_score_threshold
from apps.registry import selectors
from apps.registry.identity import parse_personnummer
from apps.registry.models import Prepatient
from apps.registry.services import lifecycle_exclude, referral_issue
from prevention_engine.dates import add_months
from tests.registry import factories

pytestmark = pytest.mark.django_db

TODAY = date(2026, 9, 1)


def test_a_personnummer_finds_the_programme_ids_of_its_records_only() -> None:
    number = factories.make_personnummer()
    found = factories.enrolled_prepatient(personnummer=number)
    factories.enrolled_prepatient()
    parsed = parse_personnummer(number, today=TODAY)
    assert list(selectors.filter_by_personnummer(Prepatient.objects.all(), parsed)) == [found]
    assert selectors.pseudonyms_with_personnummer(Prepatient.objects.all(), parsed) == [
        found.pseudonym]


def test_self_reported_values_await_verification_oldest_first() -> None:
    prepatient = factories.enrolled_prepatient()
    with clock.travel_to(TODAY - timedelta(days=3)):
        older = factories.self_reported_sample(prepatient)
    with clock.travel_to(TODAY):
        newer = factories.self_reported_sample(prepatient, hba1c="46")
    assert selectors.inclusion_samples_awaiting_verification(prepatient=prepatient) == [
        older, newer]
    assert selectors.inclusion_sample_pending_self(prepatient=prepatient) == newer
    assert selectors.inclusion_sample_of(prepatient=prepatient, pk=older.pk) == older
    assert selectors.inclusion_sample_of(prepatient=factories.candidate(), pk=older.pk) is None


def test_a_referral_is_active_until_it_expires() -> None:
    prepatient = factories.candidate()
    assert not selectors.referral_is_active(selectors.referral_latest(prepatient=prepatient))
    with clock.travel_to(TODAY):
        referral, _code = referral_issue(prepatient=prepatient)
        assert selectors.referral_latest(prepatient=prepatient) == referral
        assert selectors.referral_is_active(referral)
    with clock.travel_to(referral.expires_at + timedelta(seconds=1)):
        assert not selectors.referral_is_active(referral)


def test_the_latest_screening_decides_the_referral() -> None:
    prepatient = factories.enrolled_prepatient()  # a FINDRISC score of 14
    terms = programme_terms(prepatient.programme)
    assert referral_score_threshold(terms) == 13
    assert selectors.prepatient_screened(prepatient=prepatient)
    assert selectors.prepatient_referred(prepatient=prepatient)
    with clock.travel_to(TODAY):  # answered again, with a lower risk
        latest = factories.screening_record(prepatient, high_glucose_history=False,
                                            physically_active=True)
    assert latest.score < 13
    assert not selectors.prepatient_referred(prepatient=prepatient, screening=latest)
    assert not selectors.prepatient_referred(prepatient=prepatient)
    candidate = factories.candidate()
    assert not selectors.prepatient_screened(prepatient=candidate)
    assert not selectors.prepatient_referred(prepatient=candidate)


def test_only_an_active_person_may_switch() -> None:
    prepatient = factories.enrolled_prepatient()  # enrolled on 2026-08-01
    with clock.travel_to(TODAY):
        assert selectors.switch_possible(prepatient=prepatient)
        lifecycle_exclude(prepatient=prepatient, reason="other", note="Moved abroad")
        assert not selectors.switch_possible(prepatient=prepatient)
    assert not selectors.switch_possible(prepatient=factories.candidate())


def test_the_switch_window_ends_the_programme_s_switch_months_after_enrollment() -> None:
    prepatient = factories.enrolled_prepatient()  # enrolled on 2026-08-01
    months = prepatient.programme.switch_months
    assert selectors.switch_window_end_of(prepatient=prepatient) == add_months(
        date(2026, 8, 1), months)
    assert selectors.switch_window_end_of(prepatient=factories.candidate()) is None
