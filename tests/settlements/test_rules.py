from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.settlements.rules import (
    EventIn,
    EventType,
    ListingIn,
    PrepatientIn,
    ProgrammeRules,
    Result,
    SampleIn,
    evaluate_prepatient,
    paid_count,
    settle_counts,
)

RULES = ProgrammeRules(
    code="prediabetes-2026", programme_months=24, switch_months=18, outcome_measure="hba1c",
    outcome_below=Decimal("42"), outcome_unit="mmol/mol", outcome_window_days=30,
    payment_per_success=Decimal("47000.00"), currency="SEK", floor_share=Decimal("0.10"),
    ceiling_share=Decimal("0.80"), min_attributed=50,
)
ENROLLED = date(2026, 2, 1)
END = date(2028, 2, 1)
LATE = date(2028, 6, 30)


def lab(value: str, day: date, unit: str = "mmol/mol", source: str = "lab") -> SampleIn:
    return SampleIn(type="hba1c", value=Decimal(value), unit=unit, taken_on=day, source=source)


def person(*, events=(), samples=(), baseline=True, listings=None) -> PrepatientIn:
    return PrepatientIn(
        id="pp-1", enrolled_on=ENROLLED, baseline=baseline,
        listings=tuple(listings or (ListingIn("P1", ENROLLED), ListingIn("P2", date(2027, 3, 15)))),
        events=tuple(events), measurements=tuple(samples),
    )


def evaluate(p: PrepatientIn, as_of: date = LATE):
    return evaluate_prepatient(p, RULES, as_of)


@pytest.mark.parametrize("value,result,reason", [
    ("41.9", Result.SUCCESS, "below_target"),
    ("41", Result.SUCCESS, "below_target"),
    ("42", Result.FAILURE, "above_target"),
    ("48", Result.FAILURE, "above_target"),
])
def test_the_outcome_target_is_strictly_below_42(value, result, reason) -> None:
    evaluation = evaluate(person(samples=[lab(value, END)]))
    assert (evaluation.result, evaluation.reason, evaluation.provider) == (result, reason, "P2")
    assert evaluation.deciding_sample == lab(value, END)


def test_a_percent_value_is_converted_before_comparison() -> None:
    # 5.9 % = 40.4 mmol/mol; 6.0 % = 42.08 mmol/mol
    assert evaluate(person(samples=[lab("5.9", END, "%")])).result == Result.SUCCESS
    assert evaluate(person(samples=[lab("6.0", END, "%")])).result == Result.FAILURE


def test_the_deciding_sample_is_the_closest_to_the_end_the_later_on_a_tie() -> None:
    samples = [lab("40", END - timedelta(days=5)), lab("45", END + timedelta(days=5)),
               lab("39", END - timedelta(days=10))]
    assert evaluate(person(samples=samples)).deciding_sample == samples[1]


@pytest.mark.parametrize("offset,counted", [(-31, False), (-30, True), (30, True), (31, False)])
def test_only_lab_samples_inside_the_window_count(offset: int, counted: bool) -> None:
    evaluation = evaluate(person(samples=[lab("40", END + timedelta(days=offset))]))
    assert evaluation.reason == ("below_target" if counted else "no_outcome_sample")


def test_provider_and_self_reported_samples_never_decide() -> None:
    samples = [lab("40", END, source="provider"), lab("40", END, source="self")]
    assert evaluate(person(samples=samples)).reason == "no_outcome_sample"


def test_pending_until_the_outcome_window_has_closed() -> None:
    p = person(samples=[lab("40", END)])
    before = evaluate(p, as_of=END + timedelta(days=29))
    assert (before.result, before.reason, before.provider) == (Result.PENDING, "not_yet_due",
                                                               "P2")
    assert evaluate(p, as_of=END + timedelta(days=30)).result == Result.SUCCESS
    assert evaluate(p, as_of=date(2026, 6, 1)).provider == "P1"


@pytest.mark.parametrize("died,result", [(END, Result.EXCLUDED),
                                         (END + timedelta(days=1), Result.SUCCESS)])
def test_death_on_or_before_the_end_excludes_from_evaluation(died: date, result) -> None:
    evaluation = evaluate(person(events=[EventIn(died, EventType.DECEASED)],
                                 samples=[lab("40", END)]))
    assert evaluation.result == result
    if result == Result.EXCLUDED:
        assert (evaluation.reason, evaluation.provider) == ("deceased", None)


def test_no_baseline_means_excluded_and_attributed_to_nobody() -> None:
    evaluation = evaluate(person(baseline=False, samples=[lab("40", END)]))
    assert (evaluation.result, evaluation.reason, evaluation.provider) == (
        Result.EXCLUDED, "no_baseline", None)


def test_the_earliest_terminal_event_fails_and_attributes_to_the_provider_then() -> None:
    events = [EventIn(date(2027, 6, 1), EventType.CONSENT_WITHDRAWN),
              EventIn(date(2027, 1, 10), EventType.DROPPED_OUT)]
    evaluation = evaluate(person(events=events, samples=[lab("40", END)]))
    assert (evaluation.result, evaluation.reason, evaluation.provider) == (
        Result.FAILURE, "dropped_out", "P1")


def test_a_reinstatement_cancels_the_latest_exclusion() -> None:
    events = [EventIn(date(2027, 5, 1), EventType.EXCLUDED, "missed_followup"),
              EventIn(date(2027, 5, 20), EventType.REINSTATED)]
    assert evaluate(person(events=events, samples=[lab("40", END)])).result == Result.SUCCESS
    events.insert(0, EventIn(date(2026, 9, 1), EventType.EXCLUDED, "missed_followup"))
    events.insert(1, EventIn(date(2026, 9, 10), EventType.REINSTATED))
    events.append(EventIn(date(2027, 9, 1), EventType.EXCLUDED, "other"))
    evaluation = evaluate(person(events=events, samples=[lab("40", END)]))
    assert (evaluation.reason, evaluation.provider) == ("excluded:other", "P2")


def test_an_exclusion_after_the_end_does_not_count() -> None:
    events = [EventIn(END + timedelta(days=1), EventType.EXCLUDED, "missed_followup")]
    assert evaluate(person(events=events, samples=[lab("40", END)])).result == Result.SUCCESS


@pytest.mark.parametrize("attributed,successes,paid", [
    (49, 49, 0), (50, 50, 35), (50, 5, 0), (50, 6, 1), (100, 80, 70), (100, 90, 70),
    (30_000, 9_000, 6_000), (30_000, 15_000, 12_000), (30_000, 24_000, 21_000),
    (30_000, 30_000, 21_000),
])
def test_paid_count_at_its_boundaries_and_the_programme_table(attributed, successes,
                                                              paid) -> None:
    assert paid_count(attributed=attributed, successes=successes,
                      floor_share=RULES.floor_share, ceiling_share=RULES.ceiling_share,
                      min_attributed=50) == paid


def test_a_provider_settlement_is_final_only_without_pending_lines() -> None:
    settled = settle_counts("P1", successes=40, failures=78, pending=2, rules=RULES)
    assert (settled.attributed, settled.final, settled.eligible, settled.paid_count) == (
        120, False, True, 28)
    assert settled.amount == Decimal("1316000.00")
    assert settle_counts("P1", successes=1, failures=1, pending=0, rules=RULES).final


counts = st.integers(min_value=0, max_value=100_000)


@given(attributed=counts, data=st.data())
def test_paid_count_is_never_negative_nor_above_the_ceiling_less_the_floor(attributed,
                                                                           data) -> None:
    successes = data.draw(st.integers(min_value=0, max_value=attributed))
    paid = paid_count(attributed=attributed, successes=successes,
                      floor_share=RULES.floor_share, ceiling_share=RULES.ceiling_share,
                      min_attributed=50)
    assert 0 <= paid <= max(0, math.floor(Decimal("0.8") * attributed)
                            - math.ceil(Decimal("0.1") * attributed))
    if attributed < 50:
        assert paid == 0


@given(attributed=st.integers(min_value=0, max_value=20_000), data=st.data())
def test_paid_count_is_monotone_in_successes(attributed, data) -> None:
    low = data.draw(st.integers(min_value=0, max_value=attributed))
    high = data.draw(st.integers(min_value=low, max_value=attributed))

    def paid(successes: int) -> int:
        return paid_count(attributed=attributed, successes=successes,
                          floor_share=RULES.floor_share, ceiling_share=RULES.ceiling_share,
                          min_attributed=50)

    assert paid(low) <= paid(high)
