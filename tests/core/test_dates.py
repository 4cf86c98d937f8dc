from __future__ import annotations

from datetime import date

import pytest

from apps.core.dates import add_months, age_on


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
