"""The synthetic programme generator (apps/demo/simulation.py, ``simulate_programme``).

One small programme is generated once for the module inside a transaction that
is rolled back afterwards; the tests read a snapshot of it. The determinism test
generates it a second time in a fresh database and compares.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Max, Min

from apps.demo.simulation import (
    SimulationSummary,
    SyntheticPopulationRegister,
    make_organisation_number,
    make_personnummer,
    simulate_programme,
)
from apps.measurements.models import FollowUpDue, Measurement, MeasurementType, SafetyNotice
from apps.programs.models import Programme
from apps.providers.models import Provider
from apps.providers.validators import normalise_organisation_number
from apps.registry.identity import parse_personnummer
from apps.registry.models import (
    LifecycleEvent,
    Listing,
    Prepatient,
    PrepatientState,
    VulnerableAreaPostcode,
)
from apps.registry.population import PopulationRegister

SIZE = 48
SEED = 7


def _snapshot(summary: SimulationSummary) -> dict[str, Any]:
    programme = Programme.objects.get(code="prediabetes-2026")
    prepatients = Prepatient.objects.filter(programme=programme)
    ranges = {
        row["type__code"]: (row["low"], row["high"])
        for row in Measurement.objects.values("type__code")
        .annotate(low=Min("value"), high=Max("value"))
    }
    plausible = {t.code: (t.plausible_min, t.plausible_max)
                 for t in MeasurementType.objects.all()}
    per_prepatient: dict[int, dict[str, int]] = defaultdict(dict)
    for row in (Measurement.objects.values("prepatient_id", "type__code")
                .annotate(n=Count("pk"))):
        per_prepatient[row["prepatient_id"]][row["type__code"]] = row["n"]
    completed = prepatients.filter(state=PrepatientState.COMPLETED)
    final_hba1c = []
    for prepatient in completed:
        last = (Measurement.objects.filter(prepatient=prepatient, type__code="hba1c",
                                           reporter_kind="lab")
                .order_by("-taken_on").first())
        assert last is not None and prepatient.end_date is not None
        assert abs((last.taken_on - prepatient.end_date).days) <= 30
        final_hba1c.append(last.value)
    return {
        "summary": summary,
        "states": summary.states,
        "listings": dict(Listing.objects.values_list("prepatient_id")
                         .annotate(n=Count("pk")).values_list("prepatient_id", "n")),
        "enrolled_ids": set(prepatients.exclude(enrolled_on=None).values_list("pk", flat=True)),
        "exclusion_reasons": sorted(LifecycleEvent.objects.filter(type="excluded")
                                    .values_list("reason", flat=True)),
        "event_types": set(LifecycleEvent.objects.values_list("type", flat=True)),
        "ranges": ranges,
        "plausible": plausible,
        "per_prepatient": dict(per_prepatient),
        "completed_followups": list(
            FollowUpDue.objects.filter(prepatient__in=completed)
            .values("prepatient_id").annotate(n=Count("pk"), done=Count("completed_at"))
            .values_list("n", "done")),
        "final_hba1c": final_hba1c,
        "vulnerable": prepatients.filter(in_vulnerable_area=True).count(),
        "vulnerable_postcodes": VulnerableAreaPostcode.objects.filter(programme=programme).count(),
        "providers": Provider.objects.count(),
        "safety_notices": SafetyNotice.objects.count(),
    }


@pytest.fixture(scope="module")
def simulated(django_db_setup: Any, django_db_blocker: Any) -> dict[str, Any]:
    from tests.conftest import ensure_reference_data

    with django_db_blocker.unblock(), transaction.atomic():
        ensure_reference_data()
        programme = Programme.objects.get(code="prediabetes-2026")
        summary = simulate_programme(programme=programme, prepatients=SIZE, seed=SEED)
        snapshot = _snapshot(summary)
        transaction.set_rollback(True)
    return snapshot


def test_every_person_is_enrolled_and_listed_with_a_provider(simulated: dict[str, Any]) -> None:
    assert simulated["summary"].enrolled == SIZE
    assert simulated["enrolled_ids"] == set(simulated["listings"])
    assert simulated["providers"] >= 3


def test_some_switch_drop_out_die_withdraw_and_are_excluded_for_missed_followup(
    simulated: dict[str, Any],
) -> None:
    summary = simulated["summary"]
    assert summary.listings_switched >= 1
    assert 2 in simulated["listings"].values()
    assert {"dropped_out", "deceased", "consent_withdrawn", "excluded",
            "completed"} <= simulated["event_types"]
    assert "missed_followup" in simulated["exclusion_reasons"]
    assert summary.missed_followup_exclusions >= 1
    states = simulated["states"]
    assert states[PrepatientState.DROPPED_OUT] >= 1
    assert states[PrepatientState.DECEASED] >= 1
    assert states[PrepatientState.EXCLUDED] >= 2  # withdrawn consent and missed follow-up
    assert states[PrepatientState.COMPLETED] >= SIZE * 0.6
    assert PrepatientState.ACTIVE not in states  # everyone has finished by the end


def test_values_stay_within_each_types_plausible_range(simulated: dict[str, Any]) -> None:
    ranges, plausible = simulated["ranges"], simulated["plausible"]
    assert {"hba1c", "triglycerides", "cholesterol_total", "ldl", "hdl", "weight", "height",
            "bmi", "findrisc"} <= set(ranges)
    for code, (low, high) in ranges.items():
        assert plausible[code][0] <= low <= high <= plausible[code][1], code


def test_bmi_is_derived_from_each_weight_with_height_once_at_baseline(
    simulated: dict[str, Any],
) -> None:
    assert simulated["summary"].bmi_derived > 0
    for counts in simulated["per_prepatient"].values():
        assert counts.get("height", 0) == 1
        assert counts.get("bmi", 0) == counts.get("weight", 0)


def test_completed_prepatients_have_every_quarterly_set_complete(
    simulated: dict[str, Any],
) -> None:
    assert simulated["completed_followups"]
    for due, done in simulated["completed_followups"]:
        assert due == done == 9  # the baseline and one set a quarter for 24 months


def test_hba1c_trajectories_reach_the_target_for_some_but_not_all(
    simulated: dict[str, Any],
) -> None:
    final = simulated["final_hba1c"]
    reached = sum(1 for value in final if value < Decimal("42"))
    assert 0.2 < reached / len(final) < 0.8


def test_vulnerable_areas_are_the_programmes_list(simulated: dict[str, Any]) -> None:
    assert simulated["vulnerable_postcodes"] > 0
    assert 0.2 * SIZE <= simulated["vulnerable"] <= 0.7 * SIZE


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_programme_in_a_fresh_database(
    simulated: dict[str, Any],
) -> None:
    assert not Prepatient.objects.exists()
    programme = Programme.objects.get(code="prediabetes-2026")
    again = simulate_programme(programme=programme, prepatients=SIZE, seed=SEED)
    assert again.counts() == simulated["summary"].counts()


@pytest.mark.django_db
def test_the_command_prints_progress_and_a_summary() -> None:
    out = StringIO()
    call_command("simulate_programme", "--prepatients", "12", "--seed", "3",
                 "--until", "2026-08-31", "--workers", "1", stdout=out)
    text = out.getvalue()
    assert "2026-08" in text  # a line per simulated month
    assert "Synthetic programme created." in text
    assert Prepatient.objects.exclude(enrolled_on=None).count() <= 12


def test_generated_identities_are_valid() -> None:
    register = SyntheticPopulationRegister()
    assert isinstance(register, PopulationRegister)
    for serial in range(0, 500, 37):
        for male in (True, False):
            for coordination in (False, True):
                number = make_personnummer(date(1971, 2, 28), serial, male=male,
                                           coordination=coordination)
                parsed = parse_personnummer(number, today=date(2026, 1, 1))
                assert parsed.sex == ("M" if male else "F")
                assert parsed.birth_date == date(1971, 2, 28)
                assert parsed.is_coordination_number is coordination
                register.add(number, "16364")
                assert register.postcode_for(parsed) == "16364"
    for serial in (1, 2, 99, 12345):
        number = make_organisation_number(serial)
        assert normalise_organisation_number(number) == number
