from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from apps.core import clock
from apps.programs.selectors import programme_version_current
from apps.programs.services import (
    programme_version_draft,
    programme_version_publish,
)
from apps.providers.models import AuthorizationStatus
from apps.registry.errors import (
    InclusionRefused,
    ProviderNotAuthorized,
    ProviderNotInProgramme,
)
from apps.registry.models import (
    LifecycleEvent,
    LifecycleEventType,
    Listing,
    PrepatientState,
    SampleSource,
)
from apps.registry.services import (
    inclusion_decide,
    inclusion_sample_verify,
    listing_switch,
    prepatient_enroll,
)
from tests.factories import ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

AFTER_PRIORITY = date(2026, 8, 3)
IN_PRIORITY = date(2026, 3, 2)


def test_enrollment_records_the_date_baseline_end_date_listing_and_event(make_candidate) -> None:
    provider = ProviderFactory()
    with clock.travel_to(date(2026, 8, 31)):
        prepatient = make_candidate()
        enrolled = prepatient_enroll(prepatient=prepatient, provider=provider)
    assert enrolled.state == PrepatientState.ACTIVE
    assert enrolled.enrolled_on == date(2026, 8, 31)
    assert enrolled.end_date == date(2028, 8, 31)
    assert enrolled.baseline_sample is not None
    assert enrolled.baseline_sample.value == Decimal("44")
    assert enrolled.current_provider == provider
    listing = Listing.objects.get(prepatient=enrolled)
    assert (listing.provider, listing.valid_from, listing.reason) == (
        provider, date(2026, 8, 31), "initial")
    assert LifecycleEvent.objects.get(prepatient=enrolled).type == LifecycleEventType.ENROLLED


def test_the_last_day_of_recruitment_still_enrolls(make_candidate) -> None:
    with clock.travel_to(date(2026, 12, 31)):
        prepatient = make_candidate()
        enrolled = prepatient_enroll(prepatient=prepatient, provider=ProviderFactory())
    assert enrolled.end_date == date(2028, 12, 31)


@pytest.mark.parametrize("hba1c,included,reason", [
    ("41", False, "hba1c_below_range"),
    ("42", True, "included"),
    ("47", True, "included"),
    ("48", False, "hba1c_diabetes"),
])
def test_the_hba1c_band_decides_inclusion(make_candidate, hba1c: str, included: bool,
                                          reason: str) -> None:
    with clock.travel_to(AFTER_PRIORITY):
        decision = inclusion_decide(prepatient=make_candidate(hba1c=Decimal(hba1c)))
    assert decision.included is included
    assert decision.reason == reason
    assert decision.seek_care is (hba1c == "48")
    assert str(decision.message)


def test_a_refused_enrollment_carries_the_reason_and_writes_nothing(make_candidate) -> None:
    with clock.travel_to(AFTER_PRIORITY):
        prepatient = make_candidate(hba1c=Decimal("48"))
        with pytest.raises(InclusionRefused) as refused:
            prepatient_enroll(prepatient=prepatient, provider=ProviderFactory())
    assert refused.value.code == "hba1c_diabetes"
    assert refused.value.decision.seek_care is True
    prepatient.refresh_from_db()
    assert prepatient.enrolled_on is None
    assert not Listing.objects.exists()


@pytest.mark.parametrize("born,included", [
    (date(2006, 3, 3), False),   # 19 on 2026-03-02
    (date(2006, 3, 2), True),    # 20 that day
    (date(1965, 3, 3), True),    # 60
    (date(1965, 3, 2), False),   # 61 that day
])
def test_the_priority_phase_admits_ages_20_to_60(make_candidate, born: date,
                                                 included: bool) -> None:
    with clock.travel_to(IN_PRIORITY):
        decision = inclusion_decide(prepatient=make_candidate(born=born))
    assert decision.included is included


@pytest.mark.parametrize("bmi,included", [("25.0", False), ("25.1", True)])
def test_the_priority_phase_needs_a_bmi_above_25(make_candidate, bmi: str,
                                                 included: bool) -> None:
    with clock.travel_to(IN_PRIORITY):
        decision = inclusion_decide(prepatient=make_candidate(bmi=Decimal(bmi)))
    assert decision.included is included


def test_the_priority_phase_needs_a_vulnerable_area_and_then_opens_to_all(
    make_candidate,
) -> None:
    with clock.travel_to(IN_PRIORITY):
        outside = make_candidate(postcode="11122", vulnerable=False)
        assert inclusion_decide(prepatient=outside).reason == "not_priority"
    with clock.travel_to(date(2026, 7, 1)):
        assert inclusion_decide(prepatient=outside).included is True


def test_without_consent_nobody_is_enrolled(make_candidate) -> None:
    with clock.travel_to(AFTER_PRIORITY):
        decision = inclusion_decide(prepatient=make_candidate(consent=False))
    assert decision.reason == "no_consent"


def test_a_self_reported_value_decides_only_once_verified(make_candidate) -> None:
    caseworker = UserFactory(is_staff=True)
    with clock.travel_to(AFTER_PRIORITY):
        prepatient = make_candidate(source=SampleSource.SELF)
        assert inclusion_decide(prepatient=prepatient).reason == "no_sample"
        inclusion_sample_verify(sample=prepatient.inclusion_samples.get(),
                                caseworker=caseworker, note="Lab report seen")
        assert inclusion_decide(prepatient=prepatient).included is True


@pytest.mark.parametrize("day,reason", [
    (date(2025, 12, 31), "recruitment_not_open"),
    (date(2026, 12, 31), "included"),
    (date(2027, 1, 1), "recruitment_closed"),
])
def test_the_recruitment_window(make_candidate, day: date, reason: str) -> None:
    with clock.travel_to(day):
        decision = inclusion_decide(prepatient=make_candidate())
    assert decision.reason == reason


def test_the_cap_holds_exactly(make_candidate, programme) -> None:
    programme.cap = 2
    programme.save()
    with clock.travel_to(AFTER_PRIORITY):
        for _ in range(2):
            prepatient_enroll(prepatient=make_candidate(), provider=ProviderFactory())
        with pytest.raises(InclusionRefused) as refused:
            prepatient_enroll(prepatient=make_candidate(), provider=ProviderFactory())
    assert refused.value.code == "cap_reached"


def test_a_provider_without_authorization_cannot_be_chosen(make_candidate) -> None:
    provider = ProviderFactory(authorization_status=AuthorizationStatus.SUSPENDED)
    with clock.travel_to(AFTER_PRIORITY), pytest.raises(ProviderNotAuthorized):
        prepatient_enroll(prepatient=make_candidate(), provider=provider)


def test_a_provider_that_does_not_offer_the_programme_cannot_be_chosen(make_candidate) -> None:
    elsewhere = ProviderFactory(programmes=[])  # authorized, but offers no programme
    with clock.travel_to(AFTER_PRIORITY):
        prepatient = make_candidate()
        with pytest.raises(ProviderNotInProgramme):
            prepatient_enroll(prepatient=prepatient, provider=elsewhere)
        prepatient.refresh_from_db()
        assert prepatient.enrolled_on is None and not prepatient.listings.exists()
        enrolled = prepatient_enroll(prepatient=prepatient, provider=ProviderFactory())
        with pytest.raises(ProviderNotInProgramme):
            listing_switch(prepatient=enrolled, provider=elsewhere)


def test_nobody_is_enrolled_twice(make_candidate) -> None:
    with clock.travel_to(AFTER_PRIORITY):
        prepatient = make_candidate()
        prepatient_enroll(prepatient=prepatient, provider=ProviderFactory())
        with pytest.raises(InclusionRefused) as refused:
            prepatient_enroll(prepatient=prepatient, provider=ProviderFactory())
    assert refused.value.code == "already_enrolled"


def test_each_enrollment_keeps_the_version_it_joined_under(make_candidate) -> None:
    data = Path(__file__).resolve().parents[2] / "data"
    with clock.travel_to(date(2026, 8, 31)):
        early = prepatient_enroll(prepatient=make_candidate(), provider=ProviderFactory())
        first = programme_version_current(early.programme)  # shipped with the programme
        changed = json.loads((data / "programmes" / "prediabetes-2026.json").read_text())
        changed["payment"]["per_success"] = "48000.00"
        second = programme_version_publish(
            version=programme_version_draft(programme=early.programme, definition=changed,
                                            author=UserFactory()),
            publisher=UserFactory())
        late = prepatient_enroll(prepatient=make_candidate(), provider=ProviderFactory())
    early.refresh_from_db()
    assert first is not None and first.version == 1 and second.version == 2
    assert (early.programme_version, late.programme_version) == (first, second)
    assert early.programme_version.definition["payment"]["per_success"] == "47000.00"
    assert late.programme_version.definition["payment"]["per_success"] == "48000.00"
