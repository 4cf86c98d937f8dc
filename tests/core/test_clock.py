from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from apps.core import clock

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def test_now_is_real_time_when_nothing_moves_the_clock() -> None:
    before = timezone.now()
    assert before <= clock.now() <= timezone.now()


def test_travel_to_freezes_time_and_restores_it_afterwards() -> None:
    with clock.travel_to(datetime(2027, 3, 1, 12, 0)):
        assert clock.now() == datetime(2027, 3, 1, 12, 0, tzinfo=STOCKHOLM)
        assert clock.now() == clock.now()
    assert abs(clock.now() - timezone.now()) < timedelta(seconds=5)


def test_travel_to_a_date_means_nine_in_the_morning_in_stockholm() -> None:
    with clock.travel_to(date(2026, 6, 30)):
        assert clock.now() == datetime(2026, 6, 30, 9, 0, tzinfo=STOCKHOLM)
        assert clock.today() == date(2026, 6, 30)


def test_today_is_the_stockholm_date_not_the_utc_date() -> None:
    # 23:30 UTC on 31 December is already New Year's Day in Stockholm.
    with clock.travel_to(datetime(2026, 12, 31, 23, 30, tzinfo=ZoneInfo("UTC"))):
        assert clock.today() == date(2027, 1, 1)


def test_travel_can_nest_and_advance_moves_the_frozen_clock() -> None:
    with clock.travel_to(date(2026, 1, 1)):
        with clock.travel_to(date(2028, 1, 1)):
            clock.advance(timedelta(days=1))
            assert clock.today() == date(2028, 1, 2)
        assert clock.today() == date(2026, 1, 1)


def test_advance_outside_travel_is_refused() -> None:
    with pytest.raises(RuntimeError):
        clock.advance(timedelta(days=1))


def test_the_setting_can_freeze_the_clock_for_a_whole_process(settings) -> None:
    settings.PREVENTION_CLOCK = "2027-06-01T09:00"
    assert clock.now() == datetime(2027, 6, 1, 9, 0, tzinfo=STOCKHOLM)


def test_the_setting_can_shift_the_clock_by_an_offset(settings) -> None:
    settings.PREVENTION_CLOCK = "+400d"
    shifted = clock.now() - timezone.now()
    assert timedelta(days=399, hours=23) < shifted <= timedelta(days=400)


@pytest.mark.parametrize("value", ["tomorrow", "+4w", "2027-13-01"])
def test_a_bad_clock_setting_fails_loudly(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="PREVENTION_CLOCK"):
        clock.parse_clock_setting(value)
