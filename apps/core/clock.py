"""The one source of "now".

Every rule that depends on time (recruitment windows, due dates, outcome
windows) takes its "now" from here, so tests and demos can move the clock:

- ``travel_to(moment)`` freezes time inside a ``with`` block (tests, the
  programme generator);
- the ``PREVENTION_CLOCK`` setting freezes (``2027-06-01T09:00``) or shifts
  (``+400d``, ``-2h``) time for a whole process (demos, a worker and a web
  server started together).

Dates are calendar dates in the programme's time zone (Europe/Stockholm).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

_OFFSET = re.compile(r"^(?P<sign>[+-])(?P<amount>\d+)(?P<unit>[dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


@dataclass(frozen=True)
class _Setting:
    frozen: datetime | None = None
    offset: timedelta = timedelta(0)


class _Override(threading.local):
    moment: datetime | None = None


_override = _Override()


def parse_clock_setting(value: str | None) -> _Setting:
    """Reads ``PREVENTION_CLOCK``; a bad value stops the process loudly."""
    if not value:
        return _Setting()
    match = _OFFSET.match(value)
    if match:
        amount = int(match["amount"]) * (-1 if match["sign"] == "-" else 1)
        return _Setting(offset=timedelta(**{_UNITS[match["unit"]]: amount}))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"PREVENTION_CLOCK={value!r} is neither an ISO date-time nor an offset like +400d"
        ) from None
    return _Setting(frozen=_aware(moment))


@lru_cache(maxsize=8)
def _setting(value: str | None) -> _Setting:
    return parse_clock_setting(value)


def _aware(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        return timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def now() -> datetime:
    """The current moment, timezone-aware."""
    if _override.moment is not None:
        return _override.moment
    setting = _setting(getattr(settings, "PREVENTION_CLOCK", None))
    if setting.frozen is not None:
        return setting.frozen
    return timezone.now() + setting.offset


def today() -> date:
    """Today's date in the programme's time zone (Europe/Stockholm)."""
    return timezone.localdate(now())


@contextmanager
def travel_to(moment: datetime | date) -> Iterator[None]:
    """Freezes the clock at ``moment`` (a date means 09:00 local time)."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, 9, 0)
    previous = _override.moment
    _override.moment = _aware(moment)
    try:
        yield
    finally:
        _override.moment = previous


def advance(delta: timedelta) -> None:
    """Moves a clock frozen by ``travel_to`` forward (inside its block only)."""
    if _override.moment is None:
        raise RuntimeError("advance() needs a clock frozen by travel_to()")
    _override.moment = _override.moment + delta
