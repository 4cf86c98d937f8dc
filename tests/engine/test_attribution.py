"""Who a prepatient is listed with on a day (``prevention_engine.evaluation.provider_on``),
the rule attribution and the listing history rest on (SPEC §3.3).

These cases came from the registry, whose own copy of the rule is gone; the rest of
``evaluation`` is tested in test_evaluation.py.
"""

from __future__ import annotations

from datetime import date

import pytest

from prevention_engine.evaluation import provider_on

LISTINGS = [
    ("beta", date(2026, 9, 1)),
    ("alpha", date(2026, 3, 1)),
    ("gamma", date(2027, 2, 15)),
]


@pytest.mark.parametrize("day,provider", [
    (date(2026, 2, 28), None),        # before the first listing
    (date(2026, 3, 1), "alpha"),      # the first listing's first day
    (date(2026, 8, 31), "alpha"),
    (date(2026, 9, 1), "beta"),       # the day of a switch: the new provider
    (date(2027, 2, 14), "beta"),
    (date(2027, 2, 15), "gamma"),
    (date(2030, 1, 1), "gamma"),
])
def test_the_provider_on_a_day_is_the_latest_listing_valid_that_day_in_any_order(
    day: date, provider: str | None
) -> None:
    assert provider_on(LISTINGS, day) == provider
    assert provider_on(list(reversed(LISTINGS)), day) == provider
    assert provider_on(sorted(LISTINGS, key=lambda listing: listing[1]), day) == provider


def test_without_listings_there_is_no_provider() -> None:
    assert provider_on([], date(2026, 5, 1)) is None


def test_two_listings_on_the_same_day_resolve_to_the_later_one_given() -> None:
    same_day = [("alpha", date(2026, 3, 1)), ("beta", date(2026, 3, 1))]
    assert provider_on(same_day, date(2026, 3, 1)) == "beta"
