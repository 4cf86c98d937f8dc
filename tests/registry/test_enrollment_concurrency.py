"""The cap holds under real concurrent transactions (PostgreSQL): exactly the places
left are taken, and the programme's enrolled count says so."""

from __future__ import annotations

import os
import threading
from datetime import date

import pytest
from django.db import connection

from apps.core import clock
from apps.registry.errors import InclusionRefused
from apps.registry.models import Prepatient
from apps.registry.services import prepatient_enroll
from tests.factories import ProviderFactory

THREADS = 20
DAY = date(2026, 8, 3)


@pytest.mark.parametrize("places_left", [5, 1])
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_threads_racing_for_the_last_places_never_exceed_the_cap(
    make_candidate, programme, places_left: int
) -> None:
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail("REQUIRE_POSTGRES is set but the tests do not run on PostgreSQL")
        pytest.skip("row locks need PostgreSQL; CI runs this on PostgreSQL")
    provider = ProviderFactory()
    with clock.travel_to(DAY):
        already = [make_candidate() for _ in range(3)]
        for prepatient in already:
            prepatient_enroll(prepatient=prepatient, provider=provider)
        racers = [make_candidate() for _ in range(THREADS)]
    programme.cap = len(already) + places_left
    programme.save()

    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(prepatient: Prepatient) -> None:
        try:
            with clock.travel_to(DAY):
                barrier.wait(timeout=30)
                try:
                    prepatient_enroll(prepatient=prepatient, provider=provider)
                    result = "enrolled"
                except InclusionRefused as refused:
                    result = refused.code
        except Exception as exc:  # surfaced in the assertion below
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=race, args=(p,)) for p in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(outcomes) == ["cap_reached"] * (THREADS - places_left) + [
        "enrolled"] * places_left
    assert Prepatient.objects.filter(programme=programme,
                                     enrolled_on__isnull=False).count() == programme.cap
    programme.refresh_from_db()
    assert programme.enrolled_count == programme.cap
