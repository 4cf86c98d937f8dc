"""Calendar arithmetic, the individual end date and the switching window (SPEC §3, §3.2)."""

from __future__ import annotations

from datetime import date

import pytest

from prevention_engine.dates import (
    add_months,
    age_on,
    end_date,
    switch_allowed,
    switch_window_end,
    switch_window_open,
)


@pytest.mark.parametrize("start,months,expected", [
    (date(2026, 2, 1), 24, date(2028, 2, 1)),
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2027, 11, 30), 3, date(2028, 2, 29)),   # into a leap February
    (date(2028, 2, 29), 12, date(2029, 2, 28)),
    (date(2026, 12, 15), 1, date(2027, 1, 15)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
])
def test_add_months_is_calendar_arithmetic_clamped_to_month_end(
    start: date, months: int, expected: date
) -> None:
    assert add_months(start, months) == expected


def test_age_counts_completed_years() -> None:
    assert age_on(date(1966, 5, 10), date(2026, 5, 9)) == 59
    assert age_on(date(1966, 5, 10), date(2026, 5, 10)) == 60
    assert age_on(date(2004, 2, 29), date(2025, 2, 28)) == 20
    assert age_on(date(2004, 2, 29), date(2025, 3, 1)) == 21


# ---------------------------------------------------------------- the individual end date


@pytest.mark.parametrize("enrolled,end", [
    (date(2026, 2, 1), date(2028, 2, 1)),
    (date(2026, 8, 31), date(2028, 8, 31)),
    (date(2026, 2, 28), date(2028, 2, 28)),
    (date(2026, 5, 31), date(2028, 5, 31)),
])
def test_the_individual_programme_ends_24_months_after_enrollment(
    enrolled: date, end: date
) -> None:
    assert end_date(enrolled, 24) == end


def test_a_shorter_programme_ending_in_february_is_clamped_to_its_last_day() -> None:
    assert end_date(date(2026, 8, 31), 18) == date(2028, 2, 29)
    assert end_date(date(2027, 8, 31), 18) == date(2029, 2, 28)


# ---------------------------------------------------------------- switching


@pytest.mark.parametrize("today,allowed", [
    (date(2026, 2, 1), True),
    (date(2027, 7, 31), True),
    (date(2027, 8, 1), True),    # the last allowed day
    (date(2027, 8, 2), False),   # the day after
    (date(2028, 1, 31), False),
])
def test_switching_is_allowed_up_to_and_including_the_last_day_of_18_months(
    today: date, allowed: bool
) -> None:
    assert switch_allowed(enrolled_on=date(2026, 2, 1), switch_months=18, today=today,
                          provider_lost_authorization=False) is allowed
    assert switch_window_open(enrolled_on=date(2026, 2, 1), switch_months=18,
                              today=today) is allowed


@pytest.mark.parametrize("today", [date(2027, 8, 2), date(2028, 1, 31), date(2028, 2, 1)])
def test_a_provider_that_lost_its_authorization_can_be_left_after_the_window(
    today: date
) -> None:
    assert switch_allowed(enrolled_on=date(2026, 2, 1), switch_months=18, today=today,
                          provider_lost_authorization=True)
    assert not switch_window_open(enrolled_on=date(2026, 2, 1), switch_months=18, today=today)


def test_the_switch_window_ends_on_the_same_date_18_months_later() -> None:
    assert switch_window_end(date(2026, 2, 1), 18) == date(2027, 8, 1)


def test_a_month_end_enrollment_keeps_its_window_inside_the_shorter_month() -> None:
    enrolled = date(2026, 8, 31)
    end = switch_window_end(enrolled, 18)
    assert end == date(2028, 2, 29)  # a leap February
    assert switch_allowed(enrolled_on=enrolled, switch_months=18, today=end,
                          provider_lost_authorization=False)
    assert not switch_allowed(enrolled_on=enrolled, switch_months=18, today=date(2028, 3, 1),
                              provider_lost_authorization=False)
    assert switch_window_end(date(2026, 1, 31), 1) == date(2026, 2, 28)
