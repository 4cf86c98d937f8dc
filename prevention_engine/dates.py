"""Calendar arithmetic: whole calendar months clamped to the month's last day.

Every rule that adds months (a prepatient's end date, the switching window,
follow-up due dates, recruitment phases) uses ``add_months``.
"""

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


def end_date(enrolled_on: date, programme_months: int) -> date:
    """The day a prepatient's individual programme ends: enrollment plus its length."""
    return add_months(enrolled_on, programme_months)


def switch_window_end(enrolled_on: date, switch_months: int) -> date:
    """The last day on which a prepatient may switch provider freely (inclusive)."""
    return add_months(enrolled_on, switch_months)


def switch_window_open(*, enrolled_on: date, switch_months: int, today: date) -> bool:
    """Today is on or before the switching window's last day."""
    return today <= switch_window_end(enrolled_on, switch_months)


def switch_allowed(*, enrolled_on: date, switch_months: int, today: date,
                   provider_lost_authorization: bool) -> bool:
    """Free switching up to and including the window's last day; always when the
    current provider has lost its authorization (SPEC §3.2)."""
    if provider_lost_authorization:
        return True
    return switch_window_open(enrolled_on=enrolled_on, switch_months=switch_months,
                              today=today)
