"""The follow-up schedule and its deadlines (SPEC §3.2): due dates at month ends and in
leap years, windows that meet, and the days a set becomes overdue, exclusion and a
reminder fall due."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prevention_engine.followup import (
    FollowUpSet,
    due_dates,
    exclusion_deadline,
    exclusion_due,
    missing_types,
    overdue,
    reminder_due,
    schedule,
)

# ---------------------------------------------------------------- due dates


def test_due_dates_from_31_january_are_anchored_on_enrollment_not_chained():
    assert due_dates(enrolled_on=date(2027, 1, 31), interval_months=3, programme_months=24) == [
        date(2027, 4, 30), date(2027, 7, 31), date(2027, 10, 31), date(2028, 1, 31),
        date(2028, 4, 30), date(2028, 7, 31), date(2028, 10, 31), date(2029, 1, 31),
    ]


def test_monthly_due_dates_from_31_january_end_february_in_common_and_leap_years():
    due = due_dates(enrolled_on=date(2027, 1, 31), interval_months=1, programme_months=24)
    assert due[0] == date(2027, 2, 28)
    assert due[1] == date(2027, 3, 31)
    assert due[12] == date(2028, 2, 29)
    assert len(due) == 24


def test_due_dates_from_30_november_reach_29_february_in_a_leap_year():
    assert due_dates(enrolled_on=date(2027, 11, 30), interval_months=3, programme_months=24) == [
        date(2028, 2, 29), date(2028, 5, 30), date(2028, 8, 30), date(2028, 11, 30),
        date(2029, 2, 28), date(2029, 5, 30), date(2029, 8, 30), date(2029, 11, 30),
    ]


def test_due_dates_from_29_february_fall_on_28_february_in_common_years():
    due = due_dates(enrolled_on=date(2028, 2, 29), interval_months=3, programme_months=48)
    assert due[:4] == [date(2028, 5, 29), date(2028, 8, 29), date(2028, 11, 29), date(2029, 2, 28)]
    assert due[7] == date(2030, 2, 28)
    assert due[15] == date(2032, 2, 29)


def test_due_dates_from_31_august_are_clamped_to_each_month_end():
    assert due_dates(enrolled_on=date(2027, 8, 31), interval_months=3, programme_months=24) == [
        date(2027, 11, 30), date(2028, 2, 29), date(2028, 5, 31), date(2028, 8, 31),
        date(2028, 11, 30), date(2029, 2, 28), date(2029, 5, 31), date(2029, 8, 31),
    ]


def test_due_dates_count_only_whole_intervals_in_the_programme():
    assert len(due_dates(enrolled_on=date(2027, 1, 1), interval_months=5, programme_months=24)) == 4
    assert due_dates(enrolled_on=date(2027, 1, 1), interval_months=3, programme_months=2) == []


def test_due_dates_need_a_positive_interval_and_a_non_negative_programme():
    with pytest.raises(ValueError):
        due_dates(enrolled_on=date(2027, 1, 1), interval_months=0, programme_months=24)
    with pytest.raises(ValueError):
        due_dates(enrolled_on=date(2027, 1, 1), interval_months=3, programme_months=-1)


# ---------------------------------------------------------------- the schedule

ENROLLED = date(2027, 1, 31)
SCHEDULE = schedule(enrolled_on=ENROLLED, interval_months=3, programme_months=24, grace_days=30)


def test_the_baseline_is_due_a_grace_period_after_enrollment_counting_from_that_day():
    assert SCHEDULE[0] == FollowUpSet(0, date(2027, 3, 2), ENROLLED, date(2027, 3, 2))


def test_then_one_set_is_due_every_interval_to_the_end_of_the_programme():
    assert [item.index for item in SCHEDULE] == list(range(9))
    assert [item.due_on for item in SCHEDULE[1:]] == due_dates(
        enrolled_on=ENROLLED, interval_months=3, programme_months=24)
    assert SCHEDULE[-1].due_on == date(2029, 1, 31)  # the end of 24 months


def test_each_later_window_runs_from_the_day_after_the_previous_due_date_to_its_own():
    assert (SCHEDULE[1].window_start, SCHEDULE[1].window_end) == (
        date(2027, 3, 3), date(2027, 4, 30))
    assert (SCHEDULE[2].window_start, SCHEDULE[2].window_end) == (
        date(2027, 5, 1), date(2027, 7, 31))
    assert (SCHEDULE[8].window_start, SCHEDULE[8].window_end) == (
        date(2028, 11, 1), date(2029, 1, 31))


def test_the_windows_cover_every_day_from_enrollment_once():
    day = ENROLLED
    for item in SCHEDULE:
        assert item.window_start == day
        assert item.window_end == item.due_on
        day = item.window_end + timedelta(days=1)


def test_the_schedule_of_the_first_programme_from_3_august():
    sets = schedule(enrolled_on=date(2026, 8, 3), interval_months=3, programme_months=24,
                    grace_days=30)
    assert len(sets) == 9
    assert (sets[0].window_start, sets[0].due_on) == (date(2026, 8, 3), date(2026, 9, 2))
    assert [item.due_on for item in sets[1:3]] == [date(2026, 11, 3), date(2027, 2, 3)]
    assert sets[1].window_start == date(2026, 9, 3)
    assert sets[-1].due_on == date(2028, 8, 3)


def test_a_baseline_due_after_the_first_set_leaves_that_set_only_its_due_day():
    sets = schedule(enrolled_on=date(2027, 1, 1), interval_months=1, programme_months=3,
                    grace_days=45)
    assert sets[0] == FollowUpSet(0, date(2027, 2, 15), date(2027, 1, 1), date(2027, 2, 15))
    assert sets[1] == FollowUpSet(1, date(2027, 2, 1), date(2027, 2, 1), date(2027, 2, 1))
    assert sets[2] == FollowUpSet(2, date(2027, 3, 1), date(2027, 2, 2), date(2027, 3, 1))


def test_a_grace_period_of_zero_makes_the_baseline_due_on_the_enrollment_day():
    sets = schedule(enrolled_on=ENROLLED, interval_months=3, programme_months=3, grace_days=0)
    assert sets[0] == FollowUpSet(0, ENROLLED, ENROLLED, ENROLLED)
    assert sets[1].window_start == ENROLLED + timedelta(days=1)


def test_a_negative_grace_period_is_an_error():
    with pytest.raises(ValueError):
        schedule(enrolled_on=ENROLLED, interval_months=3, programme_months=24, grace_days=-1)


@given(enrolled=st.dates(min_value=date(2024, 1, 1), max_value=date(2040, 12, 31)),
       interval=st.integers(1, 12), months=st.integers(0, 60), grace=st.integers(0, 120))
def test_every_window_is_ordered_and_ends_on_its_due_date(enrolled, interval, months, grace):
    sets = schedule(enrolled_on=enrolled, interval_months=interval, programme_months=months,
                    grace_days=grace)
    assert len(sets) == 1 + months // interval
    for item in sets:
        assert enrolled <= item.window_start <= item.window_end == item.due_on


# ---------------------------------------------------------------- what is missing

START, END = date(2027, 2, 1), date(2027, 4, 30)
REQUIRED = ("hba1c", "ldl", "weight")


def test_a_set_with_every_required_type_in_the_window_misses_nothing():
    taken = {"hba1c": [START], "ldl": [END], "weight": [date(2027, 3, 1)], "waist": []}
    assert missing_types(REQUIRED, taken, START, END) == []


def test_a_set_with_one_type_missing_names_it():
    taken = {"hba1c": [START], "weight": [END]}
    assert missing_types(REQUIRED, taken, START, END) == ["ldl"]


def test_values_just_outside_the_window_do_not_count():
    taken = {
        "hba1c": [START - timedelta(days=1)],
        "ldl": [END + timedelta(days=1)],
        "weight": [START],
    }
    assert missing_types(REQUIRED, taken, START, END) == ["hba1c", "ldl"]


def test_missing_types_are_sorted_and_an_empty_requirement_misses_nothing():
    assert missing_types(("weight", "hba1c", "ldl"), {}, START, END) == ["hba1c", "ldl", "weight"]
    assert missing_types((), {}, START, END) == []


def test_taken_dates_may_be_any_iterable():
    taken = {"hba1c": iter([START]), "ldl": (END,), "weight": {START}}
    assert missing_types(REQUIRED, taken, START, END) == []


# ---------------------------------------------------------------- deadlines

DUE_DAY = date(2027, 4, 30)


def test_an_incomplete_set_is_not_overdue_on_its_due_day_but_is_the_day_after():
    assert not overdue(due_on=DUE_DAY, complete=False, today=DUE_DAY)
    assert overdue(due_on=DUE_DAY, complete=False, today=DUE_DAY + timedelta(days=1))
    assert not overdue(due_on=DUE_DAY, complete=False, today=DUE_DAY - timedelta(days=1))


def test_a_complete_set_is_never_overdue():
    assert not overdue(due_on=DUE_DAY, complete=True, today=DUE_DAY + timedelta(days=365))


def test_the_exclusion_deadline_is_the_due_date_plus_the_grace_period():
    assert exclusion_deadline(due_on=DUE_DAY, grace_days=30) == date(2027, 5, 30)
    assert exclusion_deadline(due_on=DUE_DAY, grace_days=0) == DUE_DAY


def test_exclusion_is_due_the_day_after_the_grace_period_ends():
    grace = 30
    assert not exclusion_due(due_on=DUE_DAY, complete=False,
                             today=DUE_DAY + timedelta(days=grace), grace_days=grace)
    assert exclusion_due(due_on=DUE_DAY, complete=False,
                         today=DUE_DAY + timedelta(days=grace + 1), grace_days=grace)
    assert not exclusion_due(due_on=DUE_DAY, complete=True,
                             today=DUE_DAY + timedelta(days=grace + 1), grace_days=grace)


def test_with_no_grace_exclusion_is_due_the_day_after_the_due_date():
    assert not exclusion_due(due_on=DUE_DAY, complete=False, today=DUE_DAY, grace_days=0)
    assert exclusion_due(due_on=DUE_DAY, complete=False, today=DUE_DAY + timedelta(days=1),
                         grace_days=0)


def test_a_reinstatement_forgives_the_deadlines_that_passed_before_it_and_no_later_ones():
    late = DUE_DAY + timedelta(days=31)
    deadline = exclusion_deadline(due_on=DUE_DAY, grace_days=30)
    assert not exclusion_due(due_on=DUE_DAY, complete=False, today=late + timedelta(days=5),
                             grace_days=30, reinstated_on=deadline + timedelta(days=1))
    # Reinstated on the deadline itself: the deadline had not passed, so it still counts.
    assert exclusion_due(due_on=DUE_DAY, complete=False, today=late, grace_days=30,
                         reinstated_on=deadline)
    assert exclusion_due(due_on=DUE_DAY, complete=False, today=late, grace_days=30,
                         reinstated_on=None)


@pytest.mark.parametrize("days_before_due,due", [
    (15, False), (14, True), (13, True), (1, True), (0, True), (-1, False),
])
def test_a_reminder_is_due_from_its_lead_time_before_the_due_date_up_to_that_date(
    days_before_due: int, due: bool
):
    today = DUE_DAY - timedelta(days=days_before_due)
    assert reminder_due(due_on=DUE_DAY, complete=False, today=today, days_before=14) is due


def test_no_reminder_is_due_for_a_complete_set():
    assert not reminder_due(due_on=DUE_DAY, complete=True, today=DUE_DAY - timedelta(days=14),
                            days_before=14)


def test_with_no_lead_time_the_reminder_is_due_on_the_due_date_only():
    assert reminder_due(due_on=DUE_DAY, complete=False, today=DUE_DAY, days_before=0)
    assert not reminder_due(due_on=DUE_DAY, complete=False, today=DUE_DAY - timedelta(days=1),
                            days_before=0)


def test_negative_grace_or_lead_time_is_an_error():
    with pytest.raises(ValueError):
        exclusion_due(due_on=DUE_DAY, complete=False, today=DUE_DAY, grace_days=-1)
    with pytest.raises(ValueError):
        reminder_due(due_on=DUE_DAY, complete=False, today=DUE_DAY, days_before=-1)


@given(due=st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)),
       offset=st.integers(-60, 120), grace=st.integers(0, 60), complete=st.booleans())
def test_a_set_due_for_exclusion_is_overdue_and_an_overdue_one_gets_no_reminder(
    due, offset, grace, complete
):
    today = due + timedelta(days=offset)
    if exclusion_due(due_on=due, complete=complete, today=today, grace_days=grace):
        assert overdue(due_on=due, complete=complete, today=today)
    if overdue(due_on=due, complete=complete, today=today):
        assert not reminder_due(due_on=due, complete=complete, today=today, days_before=14)
