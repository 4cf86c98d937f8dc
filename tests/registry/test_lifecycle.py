from __future__ import annotations

from datetime import date

import pytest

from apps.core import clock
from apps.core.errors import InvalidInput, ReasonRequired
from apps.registry.errors import InvalidTransition
from apps.registry.models import ExclusionReason, LifecycleEvent, PrepatientState
from apps.registry.services import (
    lifecycle_complete,
    lifecycle_drop_out,
    lifecycle_exclude,
    lifecycle_register_death,
    lifecycle_reinstate,
    prepatient_enroll,
)
from tests.factories import ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def active(make_candidate):
    with clock.travel_to(date(2026, 8, 3)):
        return prepatient_enroll(prepatient=make_candidate(), provider=ProviderFactory())


@pytest.fixture
def caseworker():
    return UserFactory(is_staff=True)


def test_exclusion_and_reinstatement_are_events_with_actor_and_reason(active,
                                                                      caseworker) -> None:
    with clock.travel_to(date(2027, 2, 1)):
        lifecycle_exclude(prepatient=active, reason=ExclusionReason.MISSED_FOLLOWUP,
                          actor=caseworker)
        active.refresh_from_db()
        assert active.state == PrepatientState.EXCLUDED
        lifecycle_reinstate(prepatient=active, note="Sample was delayed at the lab",
                            actor=caseworker)
    active.refresh_from_db()
    assert active.state == PrepatientState.ACTIVE
    events = list(LifecycleEvent.objects.filter(prepatient=active)
                  .values_list("type", "reason", "actor"))
    assert events == [("enrolled", "", None),
                      ("excluded", "missed_followup", caseworker.pk),
                      ("reinstated", "", caseworker.pk)]


def test_reinstatement_needs_a_reason(active, caseworker) -> None:
    with clock.travel_to(date(2027, 2, 1)):
        lifecycle_exclude(prepatient=active, reason=ExclusionReason.MISSED_FOLLOWUP)
        with pytest.raises(ReasonRequired):
            lifecycle_reinstate(prepatient=active, note="  ", actor=caseworker)


def test_an_unknown_exclusion_reason_or_other_without_note_is_refused(active) -> None:
    with pytest.raises(InvalidInput):
        lifecycle_exclude(prepatient=active, reason="bored")
    with pytest.raises(ReasonRequired):
        lifecycle_exclude(prepatient=active, reason=ExclusionReason.OTHER, note="")


def test_death_is_recorded_with_its_date_from_any_enrolled_state(active, caseworker) -> None:
    with clock.travel_to(date(2027, 5, 1)):
        lifecycle_drop_out(prepatient=active)
        lifecycle_register_death(prepatient=active, on=date(2027, 4, 20),
                                 note="Population register", actor=caseworker)
    active.refresh_from_db()
    assert active.state == PrepatientState.DECEASED
    assert LifecycleEvent.objects.get(prepatient=active, type="deceased").on == date(2027, 4, 20)


def test_death_cannot_be_dated_in_the_future_or_before_enrollment(active, caseworker) -> None:
    with clock.travel_to(date(2027, 5, 1)):
        with pytest.raises(InvalidInput):
            lifecycle_register_death(prepatient=active, on=date(2027, 5, 2), note="x",
                                     actor=caseworker)
        with pytest.raises(InvalidInput):
            lifecycle_register_death(prepatient=active, on=date(2026, 8, 1), note="x",
                                     actor=caseworker)


def test_completion_only_at_the_end_of_the_individual_period(active) -> None:
    with clock.travel_to(date(2028, 8, 2)), pytest.raises(InvalidTransition):
        lifecycle_complete(prepatient=active)
    with clock.travel_to(date(2028, 8, 3)):
        event = lifecycle_complete(prepatient=active)
    assert event.on == date(2028, 8, 3)
    active.refresh_from_db()
    assert active.state == PrepatientState.COMPLETED


def test_a_dropout_cannot_be_excluded_or_reinstated(active, caseworker) -> None:
    lifecycle_drop_out(prepatient=active)
    with pytest.raises(InvalidTransition):
        lifecycle_exclude(prepatient=active, reason=ExclusionReason.MISSED_FOLLOWUP)
    with pytest.raises(InvalidTransition):
        lifecycle_reinstate(prepatient=active, note="x", actor=caseworker)
