from __future__ import annotations

from datetime import date

import pytest

from apps.core import clock
from apps.providers.models import AuthorizationStatus
from apps.registry.errors import InvalidTransition, ProviderNotAuthorized, SwitchNotAllowed
from apps.registry.models import Listing
from apps.registry.services import (
    lifecycle_drop_out,
    listing_switch,
    prepatient_enroll,
)
from prevention_engine.evaluation import provider_on
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db

ENROLLED = date(2026, 8, 3)
LAST_SWITCH_DAY = date(2028, 2, 3)  # enrollment + 18 months


@pytest.fixture
def enrolled(make_candidate):
    first = ProviderFactory(name="First")
    with clock.travel_to(ENROLLED):
        prepatient = prepatient_enroll(prepatient=make_candidate(), provider=first)
    return prepatient, first


def test_a_switch_on_the_last_allowed_day_is_accepted(enrolled) -> None:
    prepatient, _first = enrolled
    second = ProviderFactory()
    with clock.travel_to(LAST_SWITCH_DAY):
        listing = listing_switch(prepatient=prepatient, provider=second)
    assert (listing.valid_from, listing.reason) == (LAST_SWITCH_DAY, "switch")
    prepatient.refresh_from_db()
    assert prepatient.current_provider == second


def test_a_switch_the_day_after_is_refused_with_the_window_end(enrolled) -> None:
    prepatient, first = enrolled
    with clock.travel_to(date(2028, 2, 4)), pytest.raises(SwitchNotAllowed) as refused:
        listing_switch(prepatient=prepatient, provider=ProviderFactory())
    assert refused.value.code == "switch_window_closed"
    assert "2028-02-03" in str(refused.value.message)
    prepatient.refresh_from_db()
    assert prepatient.current_provider == first


def test_when_the_provider_loses_authorization_switching_opens_whatever_the_window(
    enrolled,
) -> None:
    prepatient, first = enrolled
    first.authorization_status = AuthorizationStatus.REVOKED
    first.save()
    with clock.travel_to(date(2028, 5, 1)):
        listing = listing_switch(prepatient=prepatient, provider=ProviderFactory())
    assert listing.reason == "lost_authorization"


def test_the_listing_history_answers_who_the_provider_was_on_a_date(enrolled) -> None:
    prepatient, first = enrolled
    second = ProviderFactory()
    with clock.travel_to(date(2027, 3, 15)):
        listing_switch(prepatient=prepatient, provider=second)
    history = [(listing.provider, listing.valid_from)
               for listing in Listing.objects.filter(prepatient=prepatient)]
    assert provider_on(history, date(2026, 8, 2)) is None
    assert provider_on(history, ENROLLED) == first
    assert provider_on(history, date(2027, 3, 14)) == first
    assert provider_on(history, date(2027, 3, 15)) == second
    assert len(history) == 2


def test_switching_to_an_unauthorized_or_the_same_provider_is_refused(enrolled) -> None:
    prepatient, first = enrolled
    with clock.travel_to(date(2027, 1, 1)):
        with pytest.raises(ProviderNotAuthorized):
            listing_switch(prepatient=prepatient, provider=ProviderFactory(
                authorization_status=AuthorizationStatus.PENDING))
        with pytest.raises(SwitchNotAllowed) as same:
            listing_switch(prepatient=prepatient, provider=first)
    assert same.value.code == "same_provider"


def test_only_one_switch_a_day(enrolled) -> None:
    prepatient, _first = enrolled
    with clock.travel_to(date(2027, 1, 1)):
        listing_switch(prepatient=prepatient, provider=ProviderFactory())
        with pytest.raises(SwitchNotAllowed) as refused:
            listing_switch(prepatient=prepatient, provider=ProviderFactory())
    assert refused.value.code == "switched_today"


def test_a_prepatient_who_left_cannot_switch(enrolled) -> None:
    prepatient, _first = enrolled
    with clock.travel_to(date(2027, 1, 1)):
        lifecycle_drop_out(prepatient=prepatient)
        with pytest.raises(InvalidTransition):
            listing_switch(prepatient=prepatient, provider=ProviderFactory())
