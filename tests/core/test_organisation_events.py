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


def test_the_kinds_are_registered_by_the_apps_that_publish_them() -> None:
    from apps.core.events import registered_kinds
    from apps.measurements import events as measurement_events
    from apps.registry import events as registry_events
    from apps.settlements import events as settlement_events

    kinds = registered_kinds()
    assert {registry_events.NEW_LISTING, registry_events.SWITCHED_AWAY,
            measurement_events.SAFETY_NOTICE, settlement_events.DISPUTE_RESOLVED,
            "consent_withdrawn", "excluded", "reinstated", "dropped_out", "deceased",
            "completed"} == set(kinds)
    assert str(kinds["safety_notice"]) == "Safety notice: seek care"


def test_a_new_kind_needs_no_change_in_core_and_a_clash_is_refused() -> None:
    from django.core.exceptions import ImproperlyConfigured

    from apps.core import events

    code = events.register_kind("test_kind", "A test kind")
    try:
        assert events.register_kind("test_kind", "A test kind") == code  # imported again
        with pytest.raises(ImproperlyConfigured, match="registered twice"):
            events.register_kind("test_kind", "Another label")
        with pytest.raises(ImproperlyConfigured, match="too long"):
            events.register_kind("k" * 25, "Too long")
        published = events.publish(organisation="provider:1", kind=code, subject="pp-1")
        assert str(events.kind_label(published.kind)) == "A test kind"
    finally:
        events._KINDS.pop("test_kind", None)


def test_an_unregistered_kind_is_not_published() -> None:
    from apps.core.events import publish

    with pytest.raises(ValueError, match="not a registered kind"):
        publish(organisation="provider:1", kind="made_up", subject="pp-1")
    assert not OrganisationEvent.objects.exists()


def test_the_feed_admin_filters_by_the_registered_kinds(admin_client, settings) -> None:
    from apps.core.events import publish

    settings.STAFF_MFA_REQUIRED = False
    publish(organisation="provider:1", kind="safety_notice", subject="pp-1")
    publish(organisation="provider:1", kind="new_listing", subject="pp-2")
    page = admin_client.get("/admin/core/organisationevent/", {"kind": "safety_notice"})
    assert page.status_code == 200
    assert list(page.context["cl"].queryset.values_list("subject", flat=True)) == ["pp-1"]
    assert "Säkerhetsvarning: sök vård" in page.content.decode()  # the admin is Swedish
