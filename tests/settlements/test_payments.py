"""Every outcome is paid exactly once: final payments per provider, adjustments that pay
the difference, the payment period, and providers settled as soon as they are final."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from apps.core import clock
from apps.measurements.models import FollowUpDue
from apps.measurements.services import Reporter, measurement_record
from apps.programs.models import Programme
from apps.registry.models import Prepatient
from apps.registry.services import prepatient_enroll
from apps.settlements.errors import NothingToSettle, OutsidePaymentPeriod
from apps.settlements.models import (
    PaymentKind,
    ProviderLine,
    ProviderPayment,
    RunKind,
    RunStatus,
    SettlementRun,
)
from apps.settlements.services import (
    committed_amount,
    payout_csv,
    planned_payments,
    settlement_approve,
    settlement_compute,
    settlement_prepare,
)
from prevention_engine.dates import add_months
from tests.factories import ProviderFactory, UserFactory, version_publish

pytestmark = pytest.mark.django_db

STOCKHOLM = ZoneInfo("Europe/Stockholm")
EARLY = date(2026, 2, 2)  # ends 2028-02-02: evaluated from 2028-03-03
LATE = date(2026, 9, 1)  # ends 2028-09-01: evaluated from 2028-10-01
LAB = Reporter.for_lab("payments-lab")
_references = itertools.count(1)


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), STOCKHOLM)


@pytest.fixture
def small(programme: Programme) -> Programme:
    """Every success paid (no floor, no ceiling, no minimum), so amounts are easy to read."""
    version_publish(programme, {"payment.floor_share": "0", "payment.ceiling_share": "1",
                                "payment.min_attributed": 1})
    return programme


def person(make_candidate: Callable[..., Prepatient], provider: Any, enrolled_on: date,
           value: str) -> tuple[Prepatient, str]:
    """Enrolled with a complete baseline and a lab HbA1c at the end of the 24 months."""
    with clock.travel_to(at(enrolled_on)):
        prepatient = prepatient_enroll(prepatient=make_candidate(), provider=provider)
        FollowUpDue.objects.filter(prepatient=prepatient, index=0).update(
            completed_at=clock.now())
    end = add_months(enrolled_on, 24)
    reference = f"payments-{next(_references)}"
    with clock.travel_to(at(end, 15)):
        measurement_record(prepatient=prepatient, type="hba1c", value=value, unit="mmol/mol",
                           taken_on=end, reporter=LAB, source_reference=reference)
    return prepatient, reference


def run(programme: Programme, on: date, kind: str = RunKind.FINAL,
        corrects: SettlementRun | None = None) -> SettlementRun:
    with clock.travel_to(at(on)):
        prepared = settlement_prepare(programme=programme, as_of=on, kind=kind,
                                      corrects=corrects, prepared_by=UserFactory())
        return settlement_compute(run_id=prepared.pk)


def approve(computed: SettlementRun, on: date) -> SettlementRun:
    with clock.travel_to(at(on, 14)):
        return settlement_approve(run=computed, approver=UserFactory())


def test_a_provider_whose_prepatients_are_evaluated_is_paid_while_others_wait(
    make_candidate: Callable[..., Prepatient], small: Programme,
) -> None:
    early, late = ProviderFactory(name="Early"), ProviderFactory(name="Late")
    person(make_candidate, early, EARLY, "40")
    person(make_candidate, early, EARLY, "45")
    person(make_candidate, late, LATE, "40")
    first = run(small, date(2028, 3, 10))
    lines = {line.provider_id: line for line in ProviderLine.objects.filter(run=first)}
    assert (lines[early.pk].final, lines[early.pk].amount) == (True, Decimal("47000.00"))
    assert (lines[late.pk].final, lines[late.pk].pending) == (False, 1)
    approve(first, date(2028, 3, 12))
    paid = ProviderPayment.objects.get(run=first)
    assert (paid.provider, paid.kind, paid.amount) == (early, PaymentKind.FINAL,
                                                        Decimal("47000.00"))
    # The late provider is settled by a later final run; the early one is not paid again.
    second = run(small, date(2028, 10, 5))
    assert [p.provider for p in planned_payments(second)] == [late]
    second = approve(second, date(2028, 10, 6))
    assert [(p.provider, p.amount) for p in ProviderPayment.objects.filter(run=second)] == [
        (late, Decimal("47000.00"))]
    assert committed_amount(small) == Decimal("94000.00")
    body = payout_csv(second)
    assert "Early" not in body and ",final,47000.00,SEK," in body


def test_a_second_final_approval_for_the_same_provider_is_refused(
    make_candidate: Callable[..., Prepatient], small: Programme,
) -> None:
    provider = ProviderFactory()
    person(make_candidate, provider, EARLY, "40")
    first = run(small, date(2028, 3, 10))
    second = run(small, date(2028, 3, 11))  # computed before the first was approved
    approve(first, date(2028, 3, 12))
    with pytest.raises(NothingToSettle) as refused:
        approve(second, date(2028, 3, 13))
    assert "already" in str(refused.value.message) or "settled" in str(refused.value.message)
    assert SettlementRun.objects.get(pk=second.pk).status == RunStatus.COMPUTED
    assert ProviderPayment.objects.filter(provider=provider).count() == 1
    # The database refuses a second final payment whatever path writes it.
    second_line = ProviderLine.objects.get(run=second, provider=provider)
    SettlementRun.objects.filter(pk=second.pk).update(status=RunStatus.APPROVED,
                                                      approved_by=UserFactory(),
                                                      approved_at=clock.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderPayment.objects.create(programme=small,
                                       programme_version=second.programme_version,
                                       provider=provider, run=second,
                                       line=second_line, kind=PaymentKind.FINAL,
                                       amount=second_line.amount,
                                       settled_amount=second_line.amount)


def test_an_adjustment_pays_only_the_difference_and_links_to_what_it_corrects(
    make_candidate: Callable[..., Prepatient], small: Programme,
) -> None:
    provider = ProviderFactory()
    person(make_candidate, provider, EARLY, "40")
    wrong, reference = person(make_candidate, provider, EARLY, "45")
    first = approve(run(small, date(2028, 3, 10)), date(2028, 3, 12))
    final = ProviderPayment.objects.get(run=first)
    assert final.amount == Decimal("47000.00")
    # The lab corrects its value after the approval: the approved run does not change.
    with clock.travel_to(at(date(2028, 4, 2))):
        measurement_record(prepatient=wrong, type="hba1c", value="41", unit="mmol/mol",
                           taken_on=add_months(EARLY, 24), reporter=LAB,
                           source_reference="payments-correction", corrects=reference)
    assert ProviderLine.objects.get(run=first).amount == Decimal("47000.00")
    adjustment = run(small, date(2028, 4, 5), kind=RunKind.ADJUSTMENT, corrects=first)
    assert ProviderLine.objects.get(run=adjustment).amount == Decimal("94000.00")
    adjustment = approve(adjustment, date(2028, 4, 6))
    paid = ProviderPayment.objects.get(run=adjustment)
    assert (paid.kind, paid.amount, paid.settled_amount, paid.corrects) == (
        PaymentKind.ADJUSTMENT, Decimal("47000.00"), Decimal("94000.00"), final)
    assert committed_amount(small) == Decimal("94000.00")
    assert payout_csv(adjustment).splitlines()[1].endswith(
        f",adjustment,47000.00,SEK,{adjustment.reference},{first.reference}")
    # A payment is corrected once: a second adjustment corrects the adjustment.
    again = approve(run(small, date(2028, 4, 7), kind=RunKind.ADJUSTMENT, corrects=adjustment),
                    date(2028, 4, 8))
    nothing = ProviderPayment.objects.get(run=again)
    assert (nothing.amount, nothing.corrects) == (Decimal("0.00"), paid)


def test_approval_outside_the_payment_period_is_refused_with_the_period(
    make_candidate: Callable[..., Prepatient], small: Programme,
) -> None:
    person(make_candidate, ProviderFactory(), EARLY, "40")
    computed = run(small, date(2028, 3, 10))
    with pytest.raises(OutsidePaymentPeriod) as refused:
        approve(computed, date(2029, 4, 1))
    assert "2028-01-01" in str(refused.value.message)
    assert "2029-03-31" in str(refused.value.message)
    assert approve(computed, date(2029, 3, 31)).status == RunStatus.APPROVED


def test_an_adjustment_before_any_final_payment_has_nothing_to_settle(
    make_candidate: Callable[..., Prepatient], small: Programme,
) -> None:
    early, late = ProviderFactory(), ProviderFactory()
    person(make_candidate, early, EARLY, "40")
    person(make_candidate, late, LATE, "40")
    first = approve(run(small, date(2028, 3, 10)), date(2028, 3, 12))
    adjustment = run(small, date(2028, 10, 5), kind=RunKind.ADJUSTMENT, corrects=first)
    # The late provider has never been settled: it is paid by a final run, not an adjustment.
    assert [p.provider for p in planned_payments(adjustment)] == [early]
    late_only = run(small, date(2028, 10, 5), kind=RunKind.FINAL)
    assert [p.provider for p in planned_payments(late_only)] == [late]
