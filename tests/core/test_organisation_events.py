from __future__ import annotations

from datetime import date

import pytest

from apps.consent.models import ConsentKind
from apps.consent.services import consent_withdraw
from apps.core import clock
from apps.core.models import OrganisationEvent
from apps.measurements.services import MeasurementInput, Reporter, measurements_record_batch
from apps.registry.services import lifecycle_register_death, listing_switch, prepatient_enroll
from tests.factories import ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db


def feed(provider) -> list[tuple[str, str]]:
    return list(OrganisationEvent.objects.filter(organisation=f"provider:{provider.pk}")
                .order_by("id").values_list("kind", "subject"))


def test_each_provider_learns_of_listings_switches_withdrawals_deaths_and_safety(
    make_candidate,
) -> None:
    first, second = ProviderFactory(), ProviderFactory()
    with clock.travel_to(date(2026, 8, 3)):
        one = prepatient_enroll(prepatient=make_candidate(), provider=first)
        two = prepatient_enroll(prepatient=make_candidate(), provider=first)
        three = prepatient_enroll(prepatient=make_candidate(), provider=first)
    with clock.travel_to(date(2026, 10, 1)):
        listing_switch(prepatient=one, provider=second)
        consent_withdraw(prepatient=two, kind=ConsentKind.DATA_SHARING)
        lifecycle_register_death(prepatient=three, on=date(2026, 9, 30), note="register",
                                 actor=UserFactory())
        measurements_record_batch(items=[MeasurementInput(
            prepatient=one.pseudonym, type="hba1c", value="50", unit="mmol/mol",
            taken_on=date(2026, 10, 1), source_reference="x")],
            reporter=Reporter.for_lab("lab"))
    assert feed(first) == [
        ("new_listing", one.pseudonym), ("new_listing", two.pseudonym),
        ("new_listing", three.pseudonym), ("switched_away", one.pseudonym),
        ("consent_withdrawn", two.pseudonym), ("deceased", three.pseudonym),
    ]
    assert feed(second) == [("new_listing", one.pseudonym), ("safety_notice", one.pseudonym)]
    switched = OrganisationEvent.objects.get(kind="switched_away")
    assert switched.data == {} and switched.occurred_on == date(2026, 10, 1)


def test_events_are_append_only(make_candidate) -> None:
    with clock.travel_to(date(2026, 8, 3)):
        prepatient_enroll(prepatient=make_candidate(), provider=ProviderFactory())
    event = OrganisationEvent.objects.get()
    event.kind = "excluded"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
