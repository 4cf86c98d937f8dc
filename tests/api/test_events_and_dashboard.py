"""The provider's event feed (a cursor that misses nothing) and the provisional dashboard."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from apps.core import clock
from apps.measurements.selectors import ProgrammeDashboard
from apps.measurements.services import MeasurementInput, Reporter, measurements_record_batch
from apps.programs.models import Programme
from apps.registry.models import Prepatient
from apps.registry.services import lifecycle_register_death
from tests.api.conftest import TODAY, Personas
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_feed_pages_with_next_after_and_misses_nothing(
    personas: Personas, enroll: Callable[..., Prepatient],
) -> None:
    pseudonyms = [enroll(personas.provider_a).pseudonym for _ in range(3)]
    client = personas.client("provider_a")
    seen: list[str] = []
    after = 0
    while True:
        page = client.get(f"/api/v1/events/?after={after}&limit=2").json()
        seen += [e["subject"] for e in page["events"]]
        assert all(e["kind"] == "new_listing" for e in page["events"])
        after = page["next_after"]
        if not page["has_more"]:
            break
    assert seen == pseudonyms
    # Nothing new: the cursor stays where it is.
    empty = client.get(f"/api/v1/events/?after={after}").json()
    assert (empty["events"], empty["next_after"], empty["has_more"]) == ([], after, False)
    # A safety notice after the cursor is the next event.
    with clock.travel_to(TODAY):
        measurements_record_batch(items=[MeasurementInput(
            prepatient=pseudonyms[0], type="hba1c", value="50", unit="mmol/mol",
            taken_on=TODAY, source_reference="L-50")], reporter=Reporter.for_lab("1"))
    [notice] = client.get(f"/api/v1/events/?after={after}").json()["events"]
    assert (notice["kind"], notice["subject"]) == ("safety_notice", pseudonyms[0])
    assert notice["data"]["value"] == "50.0"


@pytest.mark.parametrize("query", ["after=-1", "limit=0", "limit=1001", "after=x"])
def test_bad_cursor_parameters_are_refused(personas: Personas, query: str) -> None:
    response = personas.client("provider_a").get(f"/api/v1/events/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]


def _lab_hba1c(prepatient: Prepatient, value: str, reference: str,
               taken_on: date = TODAY) -> None:
    result = measurements_record_batch(items=[MeasurementInput(
        prepatient=prepatient.pseudonym, type="hba1c", value=value, unit="mmol/mol",
        taken_on=taken_on, source_reference=reference)], reporter=Reporter.for_lab("1"))
    assert result.committed


def test_the_dashboard_counts_in_the_database(
    personas: Personas, enroll: Callable[..., Prepatient], programme: Programme,
    django_assert_max_num_queries: Any,
) -> None:
    programme.min_attributed = 3
    programme.floor_share = Decimal("0")
    programme.save()
    below, above, corrected, no_value, dead = (enroll(personas.provider_a) for _ in range(5))
    enroll(personas.provider_b)  # someone else's
    _lab_hba1c(below, "44", "b1", taken_on=date(2026, 9, 1))
    _lab_hba1c(below, "40", "b2")  # the latest counts
    _lab_hba1c(above, "42", "a1")  # 42 is not below 42
    _lab_hba1c(corrected, "45", "c1")
    measurements_record_batch(items=[MeasurementInput(
        prepatient=corrected.pseudonym, type="hba1c", value="41", unit="mmol/mol",
        taken_on=TODAY, source_reference="c2", corrects="c1")], reporter=Reporter.for_lab("1"))
    # A provider's own value is not a laboratory value.
    measurements_record_batch(items=[MeasurementInput(
        prepatient=no_value.pseudonym, type="hba1c", value="39", unit="mmol/mol",
        taken_on=TODAY, source_reference="p1")],
        reporter=Reporter.for_provider(personas.provider_a))
    _lab_hba1c(dead, "30", "d1")
    lifecycle_register_death(prepatient=dead, on=TODAY, note="Registered by the authority",
                             actor=UserFactory())

    with django_assert_max_num_queries(8):
        response = personas.client("provider_a").get("/api/v1/dashboard/")
    assert response.status_code == 200
    body = response.json()
    assert body["provisional"] is True
    [figures] = body["programmes"]
    assert figures == {
        "programme": "prediabetes-2026", "currency": "SEK",
        "attributed": 4, "with_outcome_value": 3, "below_target": 2,
        "share_below_target": "0.6667", "outcome_below": "42.00",
        "projected_successes": 2,  # floor(2/3 × 4)
        "eligible": True,
        "provisional_paid_count": 2,  # min(2, floor(0.8 × 4) = 3) − ceil(0 × 4)
        "provisional_amount": "94000.00",
    }


@pytest.mark.parametrize(("share", "paid", "amount"), [
    (Decimal("0.30"), 6_000, Decimal("282000000.00")),
    (Decimal("0.50"), 12_000, Decimal("564000000.00")),
    (Decimal("0.80"), 21_000, Decimal("987000000.00")),
    (Decimal("1.00"), 21_000, Decimal("987000000.00")),
])
def test_the_provisional_payout_follows_the_programmes_own_table(
    share: Decimal, paid: int, amount: Decimal,
) -> None:
    """SPEC §3.4 for N = 30,000 with one provider."""
    figures = ProgrammeDashboard(programme=Programme(), attributed=30_000,
                                 with_outcome_value=10_000,
                                 below_target=int(share * 10_000))
    assert figures.projected_successes == int(share * 30_000)
    assert (figures.provisional_paid_count, figures.provisional_amount) == (paid, amount)


def test_below_the_minimum_nothing_is_forecast_to_be_paid() -> None:
    figures = ProgrammeDashboard(programme=Programme(), attributed=49, with_outcome_value=49,
                                 below_target=49)
    assert not figures.eligible
    assert (figures.provisional_paid_count, figures.provisional_amount) == (0, Decimal("0.00"))
    nothing = ProgrammeDashboard(programme=Programme(), attributed=60, with_outcome_value=0,
                                 below_target=0)
    assert (nothing.share_below_target, nothing.projected_successes) == (None, 0)
