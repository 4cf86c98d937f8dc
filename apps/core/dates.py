"""Calendar arithmetic shared by the rules (pure functions, no clock)."""

from __future__ import annotations

import calendar
from datetime import date


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months; the day is clamped to the month's end.

    2026-01-31 + 1 month is 2026-02-28; 2028-02-29 + 12 months is 2029-02-28.
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def age_on(born: date, on: date) -> int:
    """Completed years of age on a date (a 29 February birthday ages on 1 March)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
