from __future__ import annotations

from datetime import date

import pytest
from django.core import mail

from apps.core import clock
from apps.measurements.models import FollowUpDue, FollowUpReminder
from apps.measurements.selectors import followup_status, followups_overdue
from apps.measurements.services import MeasurementInput, Reporter, measurements_record_batch
from apps.measurements.tasks import (
    complete_ended_periods,
    exclude_missed_followups,
    send_reminders,
)
from apps.registry.models import LifecycleEvent, PrepatientState
from apps.registry.services import lifecycle_reinstate, prepatient_enroll
from tests.factories import ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

FULL_SET = [("hba1c", "44", "mmol/mol"), ("triglycerides", "1.5", "mmol/L"),
            ("cholesterol_total", "5.0", "mmol/L"), ("ldl", "3.0", "mmol/L"),
            ("hdl", "1.2", "mmol/L"), ("height", "170", "cm"), ("weight", "80", "kg"),
            ("findrisc", "14", "score")]


def report_set(prepatient, provider, day, *, skip=(), prefix="s"):
    with clock.travel_to(day):
        return measurements_record_batch(items=[
            MeasurementInput(prepatient=prepatient.pseudonym, type=code, value=value, unit=unit,
                             taken_on=day, source_reference=f"{prefix}-{day}-{code}")
            for code, value, unit in FULL_SET if code not in skip
        ], reporter=Reporter.for_provider(provider))


def test_enrollment_creates_the_baseline_and_a_due_date_every_three_months(enrolled) -> None:
    dues = list(FollowUpDue.objects.filter(prepatient=enrolled).order_by("index"))
    assert len(dues) == 9
    assert (dues[0].window_start, dues[0].due_on) == (date(2026, 8, 3), date(2026, 9, 2))
    assert [d.due_on for d in dues[1:3]] == [date(2026, 11, 3), date(2027, 2, 3)]
    assert dues[1].window_start == date(2026, 9, 3)
    assert dues[-1].due_on == date(2028, 8, 3) == enrolled.end_date


def test_month_end_and_leap_year_due_dates(make_candidate) -> None:
    with clock.travel_to(date(2026, 11, 30)):
        prepatient = prepatient_enroll(prepatient=make_candidate(), provider=ProviderFactory())
    dues = [d.due_on for d in FollowUpDue.objects.filter(prepatient=prepatient)
            .order_by("index")][1:]
    assert dues[:5] == [date(2027, 2, 28), date(2027, 5, 30), date(2027, 8, 30),
                        date(2027, 11, 30), date(2028, 2, 29)]


def test_a_set_is_complete_only_with_every_required_type_in_its_window(enrolled,
                                                                      provider) -> None:
    report_set(enrolled, provider, date(2026, 8, 20), skip=("hdl",))
    baseline = FollowUpDue.objects.get(prepatient=enrolled, index=0)
    assert baseline.completed_at is None
    with clock.travel_to(date(2026, 8, 21)):
        status = followup_status(prepatient=enrolled)
    assert status[0]["missing"] == ["hdl"]
    report_set(enrolled, provider, date(2026, 8, 25), prefix="again")
    baseline.refresh_from_db()
    assert baseline.completed_at is not None
    assert FollowUpDue.objects.get(prepatient=enrolled, index=1).completed_at is None


def test_the_overdue_list_for_caseworkers_and_for_each_provider(enrolled, provider) -> None:
    assert not followups_overdue(today=date(2026, 9, 2)).exists()
    overdue = list(followups_overdue(today=date(2026, 9, 3)))
    assert [(d.prepatient, d.index) for d in overdue] == [(enrolled, 0)]
    assert followups_overdue(today=date(2026, 9, 3), provider=provider).count() == 1
    assert not followups_overdue(today=date(2026, 9, 3),
                                 provider=ProviderFactory()).exists()
    report_set(enrolled, provider, date(2026, 8, 30))
    assert not followups_overdue(today=date(2026, 9, 3)).exists()


def test_exclusion_after_the_grace_period_and_its_reversal(enrolled, provider) -> None:
    # Baseline due 2026-09-02; grace 30 days: excluded from 2026-10-03.
    with clock.travel_to(date(2026, 10, 2)):
        assert exclude_missed_followups() == 0
    with clock.travel_to(date(2026, 10, 3)):
        assert exclude_missed_followups() == 1
    enrolled.refresh_from_db()
    assert enrolled.state == PrepatientState.EXCLUDED
    event = LifecycleEvent.objects.filter(prepatient=enrolled).last()
    assert (event.type, event.reason) == ("excluded", "missed_followup")
    with clock.travel_to(date(2026, 10, 5)):
        lifecycle_reinstate(prepatient=enrolled, note="Samples were taken; lab was late",
                            actor=UserFactory(is_staff=True))
        assert exclude_missed_followups() == 0
    enrolled.refresh_from_db()
    assert enrolled.state == PrepatientState.ACTIVE
    # The next missed set (due 2026-11-03) counts again after its own grace period.
    with clock.travel_to(date(2026, 12, 4)):
        assert exclude_missed_followups() == 1


def test_beat_tasks_are_idempotent_on_the_same_day(enrolled, provider,
                                                  django_capture_on_commit_callbacks) -> None:
    enrolled.user = UserFactory(email="person@example.invalid")
    enrolled.save()
    with clock.travel_to(date(2026, 10, 3)):
        assert (exclude_missed_followups(), exclude_missed_followups()) == (1, 0)
    assert LifecycleEvent.objects.filter(prepatient=enrolled, type="excluded").count() == 1

    with clock.travel_to(date(2026, 10, 20)):
        lifecycle_reinstate(prepatient=enrolled, note="ok", actor=UserFactory(is_staff=True))
        # Due 2026-11-03, reminders 14 days ahead: from 2026-10-20.
        with django_capture_on_commit_callbacks(execute=True):
            assert (send_reminders(), send_reminders()) == (1, 0)
    assert FollowUpReminder.objects.count() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["person@example.invalid"]


def test_no_reminder_before_the_lead_time_or_for_a_complete_set(enrolled, provider) -> None:
    enrolled.user = UserFactory(email="person@example.invalid")
    enrolled.save()
    report_set(enrolled, provider, date(2026, 8, 20))
    with clock.travel_to(date(2026, 8, 25)):
        assert send_reminders() == 0  # baseline complete, next due 2026-11-03 is far
    with clock.travel_to(date(2026, 10, 19)):
        assert send_reminders() == 0
    with clock.travel_to(date(2026, 10, 20)):
        assert send_reminders() == 1


def test_active_prepatients_complete_at_the_end_of_their_period(enrolled) -> None:
    with clock.travel_to(date(2028, 8, 2)):
        assert complete_ended_periods() == 0
    with clock.travel_to(date(2028, 8, 3)):
        assert (complete_ended_periods(), complete_ended_periods()) == (1, 0)
    enrolled.refresh_from_db()
    assert enrolled.state == PrepatientState.COMPLETED


def test_the_beat_schedule_runs_the_daily_tasks(settings) -> None:
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks == {"measurements.send_reminders", "measurements.exclude_missed_followups",
                     "measurements.complete_ended_periods", "site.purge_form_submissions",
                     "settlements.recover_runs"}
    assert enrolled_window_days() == 30


def enrolled_window_days() -> int:
    from apps.programs.models import Programme

    return Programme.objects.get(code="prediabetes-2026").followup_grace_days


def test_values_outside_every_window_do_not_complete_a_set(enrolled, provider) -> None:
    report_set(enrolled, provider, date(2026, 9, 10))  # in window 1, not the baseline
    assert FollowUpDue.objects.get(prepatient=enrolled, index=0).completed_at is None
    assert FollowUpDue.objects.get(prepatient=enrolled, index=1).completed_at is not None
