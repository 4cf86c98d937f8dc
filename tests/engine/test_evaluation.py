"""The evaluation of one prepatient and the settlement of a provider, rule by rule.

Plain values in, plain values out: every boundary SETTLEMENT_FORMAT.md states.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prevention_engine import arithmetic
from prevention_engine.baseline import baseline_sources, baseline_values
from prevention_engine.dates import add_months, end_date, switch_allowed, switch_window_end
from prevention_engine.evaluation import evaluate, late_listing, provider_on, terminal_event
from prevention_engine.model import (
    Baseline,
    BaselineValue,
    Conversion,
    Criterion,
    Disqualifier,
    Event,
    Listing,
    Payment,
    PrepatientIn,
    Result,
    Rules,
    Sample,
)
from prevention_engine.settlement import paid_count, settle, settle_counts

D = Decimal
ENROLLED = date(2026, 2, 1)
END = date(2028, 2, 1)
LATE = date(2028, 6, 30)
LAB = frozenset({"lab"})
HBA1C_LT_42 = Criterion("hba1c", "mmol/mol", LAB, "closest", "value", "lt", D("42"))
DIABETES = Disqualifier("hba1c", "mmol/mol", LAB, "ge", D("48"), "developed_diabetes")
PERCENT = Conversion("hba1c", "%", "mmol/mol", D("-2.15"), D("10.929"))
PAYMENT = Payment(D("47000.00"), "SEK", D("0.10"), D("0.80"), 50)
RULES = Rules(code="prediabetes-2026", programme_months=24, switch_months=18, window_days=30,
              criteria=(HBA1C_LT_42,), disqualifiers=(DIABETES,), conversions=(PERCENT,),
              payment=PAYMENT)


def lab(value: str, day: date, unit: str = "mmol/mol", source: str = "lab",
        measure: str = "hba1c") -> Sample:
    return Sample(measure, D(value), value, unit, day, source)


BASELINE = Baseline(ENROLLED)


def person(*, events=(), samples=(), baseline: Baseline | None = BASELINE,
           listings=None, enrolled_on: date = ENROLLED) -> PrepatientIn:
    return PrepatientIn(
        id="pp-1", enrolled_on=enrolled_on, baseline=baseline,
        listings=tuple(listings or (Listing("P1", enrolled_on), Listing("P2", date(2027, 3, 15)))),
        events=tuple(events), measurements=tuple(samples))


def judge(p: PrepatientIn, as_of: date = LATE, rules: Rules = RULES):
    return evaluate(p, rules, as_of)


# --- Dates ------------------------------------------------------------------------------


@pytest.mark.parametrize("start,months,expected", [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2028, 2, 29), 12, date(2029, 2, 28)),
    (date(2026, 2, 1), 24, date(2028, 2, 1)),
    (date(2026, 8, 31), 18, date(2028, 2, 29)),
    (date(2026, 12, 15), 1, date(2027, 1, 15)),
])
def test_months_are_calendar_months_clamped_to_the_months_end(start, months, expected) -> None:
    assert add_months(start, months) == expected
    assert end_date(start, months) == expected


def test_switching_is_free_to_the_window_s_last_day_and_always_after_a_lost_authorization(
) -> None:
    last = switch_window_end(ENROLLED, 18)
    assert last == date(2027, 8, 1)
    assert switch_allowed(enrolled_on=ENROLLED, switch_months=18, today=last,
                          provider_lost_authorization=False)
    assert not switch_allowed(enrolled_on=ENROLLED, switch_months=18,
                              today=last + timedelta(days=1), provider_lost_authorization=False)
    assert switch_allowed(enrolled_on=ENROLLED, switch_months=18, today=date(2028, 1, 1),
                          provider_lost_authorization=True)


# --- Rule 4: the outcome --------------------------------------------------------------------


@pytest.mark.parametrize("value,result,reason", [
    ("41.9", Result.SUCCESS, "target_met"),
    ("41", Result.SUCCESS, "target_met"),
    ("42", Result.FAILURE, "target_not_met:hba1c"),
    ("47.9", Result.FAILURE, "target_not_met:hba1c"),
])
def test_the_outcome_target_is_strictly_below_42(value, result, reason) -> None:
    evaluation = judge(person(samples=[lab(value, END)]))
    assert (evaluation.result, evaluation.reason, evaluation.provider) == (result, reason, "P2")
    assert evaluation.evidence[0].samples == (lab(value, END),)
    assert evaluation.evidence[0].quantity_text == value  # used as reported: not rounded


@pytest.mark.parametrize("value,result", [("47.9", Result.FAILURE), ("48", Result.FAILURE),
                                          ("41", Result.SUCCESS)])
def test_a_lab_hba1c_of_48_at_any_time_means_diabetes_whatever_the_end_value(value,
                                                                           result) -> None:
    samples = [lab(value, date(2027, 2, 1)), lab("40", END)]
    evaluation = judge(person(samples=samples))
    if value == "48":
        assert (evaluation.result, evaluation.reason) == (
            Result.FAILURE, "disqualified:developed_diabetes")
        (evidence,) = evaluation.evidence
        assert (evidence.rule, evidence.quantity_text, evidence.samples) == (
            "disqualifier", "48", (lab("48", date(2027, 2, 1)),))
    else:
        assert evaluation.reason == "target_met"


def test_the_disqualifier_window_runs_from_enrollment_to_the_end_of_the_outcome_window(
) -> None:
    before = judge(person(samples=[lab("50", ENROLLED - timedelta(days=1)), lab("40", END)]))
    first_day = judge(person(samples=[lab("50", ENROLLED), lab("40", END)]))
    last_day = judge(person(samples=[lab("40", END), lab("50", END + timedelta(days=30))]))
    after = judge(person(samples=[lab("40", END), lab("50", END + timedelta(days=31))]))
    assert before.result == Result.SUCCESS
    assert first_day.reason == last_day.reason == "disqualified:developed_diabetes"
    assert after.result == Result.SUCCESS


def test_the_earliest_disqualifying_sample_is_the_evidence_and_other_sources_do_not_count(
) -> None:
    samples = [lab("52", date(2027, 6, 1)), lab("49", date(2027, 2, 1)),
               lab("60", date(2026, 9, 1), source="provider"), lab("40", END)]
    (evidence,) = judge(person(samples=samples)).evidence
    assert evidence.samples[0].taken_on == date(2027, 2, 1)


def test_a_percent_value_is_converted_and_rounded_half_even_to_four_places() -> None:
    evaluation = judge(person(samples=[lab("5.9", END, unit="%")]))
    # (5.9 − 2.15) × 10.929 = 40.98375 → 40.9838 (half-even at the fifth place: 8|75)
    assert evaluation.evidence[0].quantity == D("40.9838")
    assert evaluation.evidence[0].quantity_text == "40.9838"
    assert evaluation.result == Result.SUCCESS


@pytest.mark.parametrize("value,expected", [
    ("1.00005", "1.0000"), ("1.00015", "1.0002"), ("-1.00005", "-1.0000"),
    ("-1.00015", "-1.0002"), ("2.00004999", "2.0000"), ("0.00005", "0.0000"),
])
def test_computed_quantities_round_half_even(value, expected) -> None:
    assert arithmetic.text4(arithmetic.round4(D(value))) == expected


def test_the_closest_sample_to_the_end_decides_the_later_on_a_tie_and_the_later_given() -> None:
    samples = [lab("44", END - timedelta(days=5)), lab("41", END + timedelta(days=5)),
               lab("45", END + timedelta(days=9))]
    assert judge(person(samples=samples)).evidence[0].samples == (samples[1],)
    same_day = [lab("41", END), lab("43", END)]
    assert judge(person(samples=same_day)).evidence[0].samples == (same_day[1],)


@pytest.mark.parametrize("offset,counted", [(-31, False), (-30, True), (30, True), (31, False)])
def test_the_outcome_window_includes_both_ends(offset: int, counted: bool) -> None:
    evaluation = judge(person(samples=[lab("40", END + timedelta(days=offset))]))
    assert evaluation.reason == ("target_met" if counted else "no_outcome_sample:hba1c")


def test_provider_and_self_reported_samples_never_decide() -> None:
    samples = [lab("40", END, source="provider"), lab("40", END, source="self")]
    assert judge(person(samples=samples)).reason == "no_outcome_sample:hba1c"


def test_criteria_in_list_order_the_first_failing_decides_and_each_gives_evidence() -> None:
    weight = Criterion("weight", "kg", frozenset({"lab", "provider"}), "mean", "percent_change",
                       "le", D("-5"))
    steps = Criterion("steps", "steps/day", frozenset({"device"}), "mean", "value", "ge",
                      D("7000"))
    rules = Rules("obesity", 12, 9, 30, (weight, steps), (), (), PAYMENT)
    end = add_months(ENROLLED, 12)
    baseline = Baseline(ENROLLED, {"weight": BaselineValue(D("100"), "100", "kg")})
    base = [lab("94", end, unit="kg", source="provider", measure="weight"),
            lab("95", end + timedelta(days=2), unit="kg", measure="weight")]
    few_steps = lab("6000", end, unit="steps/day", source="device", measure="steps")
    failing = judge(person(baseline=baseline, samples=[*base, few_steps]),
                    as_of=end + timedelta(days=30), rules=rules)
    assert failing.reason == "target_not_met:steps"
    first, second = failing.evidence
    # mean(94, 95) = 94.5000; (94.5 − 100) / 100 × 100 = −5.5000 ≤ −5
    assert (first.quantity_text, first.baseline_text, first.met) == ("-5.5000", "100", True)
    assert (second.quantity_text, second.met) == ("6000.0000", False)
    nothing = judge(person(baseline=baseline, samples=[few_steps]),
                    as_of=end + timedelta(days=30), rules=rules)
    assert nothing.reason == "no_outcome_sample:weight"
    assert nothing.evidence[0].baseline_text == "100"


def test_a_change_from_baseline_is_computed_then_rounded() -> None:
    change = Criterion("hba1c", "mmol/mol", LAB, "closest", "change", "le", D("-3"))
    rules = Rules("x", 24, 18, 30, (change,), (), (PERCENT,), PAYMENT)
    baseline = Baseline(ENROLLED, {"hba1c": BaselineValue(D("6.2"), "6.2", "%")})
    evaluation = judge(person(baseline=baseline, samples=[lab("41", END)]), rules=rules)
    # baseline (6.2 − 2.15) × 10.929 = 44.26245 → 44.2624; 41 − 44.2624 = −3.2624
    assert evaluation.evidence[0].baseline_text == "44.2624"
    assert evaluation.evidence[0].quantity_text == "-3.2624"
    assert evaluation.result == Result.SUCCESS


# --- Rules 1–3 ----------------------------------------------------------------------------


def test_pending_until_the_outcome_window_has_closed() -> None:
    p = person(samples=[lab("40", END)])
    assert judge(p, as_of=END + timedelta(days=29)).result == Result.PENDING
    assert judge(p, as_of=END + timedelta(days=29)).provider == "P2"
    assert judge(p, as_of=END + timedelta(days=30)).result == Result.SUCCESS


def test_a_pending_prepatient_is_attributed_to_the_provider_listed_on_as_of() -> None:
    early = judge(person(), as_of=date(2027, 1, 1))
    assert (early.result, early.provider) == (Result.PENDING, "P1")


@pytest.mark.parametrize("died,result", [(END, Result.EXCLUDED),
                                         (END + timedelta(days=1), Result.SUCCESS)])
def test_death_on_or_before_the_end_excludes_from_evaluation(died: date, result) -> None:
    evaluation = judge(person(events=[Event(died, "deceased")], samples=[lab("40", END)]))
    assert evaluation.result == result
    if result == Result.EXCLUDED:
        assert (evaluation.provider, evaluation.reason, evaluation.event) == (
            None, "deceased", Event(died, "deceased"))


def test_no_baseline_means_excluded_and_attributed_to_nobody() -> None:
    evaluation = judge(person(baseline=None, samples=[lab("40", END)]))
    assert (evaluation.result, evaluation.reason, evaluation.provider) == (
        Result.EXCLUDED, "no_baseline", None)


def test_a_baseline_lacking_a_compared_value_is_no_baseline() -> None:
    change = Criterion("hba1c", "mmol/mol", LAB, "closest", "change", "le", D("-3"))
    rules = Rules("x", 24, 18, 30, (change,), (), (), PAYMENT)
    assert judge(person(samples=[lab("40", END)]), rules=rules).reason == "no_baseline"


def test_the_earliest_terminal_event_fails_and_attributes_to_the_provider_then() -> None:
    events = [Event(date(2027, 6, 1), "consent_withdrawn"), Event(date(2026, 9, 1), "dropped_out")]
    evaluation = judge(person(events=events, samples=[lab("40", END)]))
    assert (evaluation.result, evaluation.reason, evaluation.provider) == (
        Result.FAILURE, "dropped_out", "P1")


def test_of_terminal_events_on_one_day_the_first_given_counts() -> None:
    day = date(2027, 6, 1)
    events = [Event(day, "consent_withdrawn"), Event(day, "excluded", "missed_followup")]
    assert judge(person(events=events)).reason == "consent_withdrawn"
    assert judge(person(events=events[::-1])).reason == "excluded:missed_followup"


def test_a_reinstatement_cancels_the_latest_exclusion_not_yet_cancelled() -> None:
    first, second = Event(date(2026, 6, 1), "excluded", "a"), Event(date(2026, 7, 1),
                                                                      "excluded", "b")
    back = Event(date(2026, 8, 1), "reinstated")
    assert terminal_event([first, second, back], END) == first
    assert terminal_event([first, back], END) is None
    assert terminal_event([back, first], END) is None  # taken by date: back comes after
    early = Event(date(2026, 5, 1), "reinstated")
    assert terminal_event([first, early], END) == first  # nothing to cancel before it
    same_day = [Event(date(2026, 6, 1), "excluded", "a"), Event(date(2026, 6, 1), "reinstated")]
    assert terminal_event(same_day, END) is None
    assert terminal_event(same_day[::-1], END) == same_day[0]


def test_events_after_the_end_are_ignored_even_a_reinstatement() -> None:
    excluded = Event(date(2027, 12, 1), "excluded", "missed_followup")
    after = [excluded, Event(END + timedelta(days=1), "reinstated")]
    assert judge(person(events=after, samples=[lab("40", END)])).reason == (
        "excluded:missed_followup")
    late = [Event(END + timedelta(days=1), "dropped_out")]
    assert judge(person(events=late, samples=[lab("40", END)])).result == Result.SUCCESS


def test_a_day_no_listing_covers_is_attributed_to_nobody() -> None:
    assert provider_on([Listing("P1", date(2026, 3, 1))], date(2026, 2, 15)) is None
    assert provider_on([Listing("P1", ENROLLED), Listing("P2", ENROLLED)], ENROLLED) == "P2"


# --- Rule 5: late listings --------------------------------------------------------------------


def test_a_listing_after_the_switching_window_needs_the_previous_provider_to_have_lost_it(
) -> None:
    late = person(listings=(Listing("P1", ENROLLED), Listing("P2", date(2027, 8, 2))))
    on_the_last_day = person(listings=(Listing("P1", ENROLLED), Listing("P2", date(2027, 8, 1))))
    assert late_listing(on_the_last_day, RULES, {}) is None
    assert late_listing(late, RULES, {}) == 1
    assert late_listing(late, RULES, {"P1": date(2027, 8, 2)}) is None
    assert late_listing(late, RULES, {"P1": date(2027, 8, 3)}) == 1
    assert late_listing(late, RULES, {"P2": date(2027, 1, 1)}) == 1


# --- Baseline values ----------------------------------------------------------------------------


def test_the_baseline_value_is_the_earliest_sample_of_the_window_from_the_compared_sources(
) -> None:
    weight = Criterion("weight", "kg", frozenset({"provider"}), "mean", "percent_change", "le",
                       D("-5"))
    rules = Rules("obesity", 12, 9, 30, (weight,), (), (), PAYMENT)
    samples = [Sample("weight", D("101"), "101", "kg", date(2026, 2, 3), "lab"),
               Sample("weight", D("100"), "100", "kg", date(2026, 2, 5), "provider"),
               Sample("weight", D("99"), "99", "kg", date(2026, 2, 5), "provider"),
               Sample("weight", D("98"), "98", "kg", date(2026, 3, 9), "provider")]
    values = baseline_values(samples, baseline_sources(rules), ENROLLED, date(2026, 3, 3))
    assert values == {"weight": BaselineValue(D("100"), "100", "kg")}


# --- The settlement of a provider -----------------------------------------------------------------


@pytest.mark.parametrize("attributed,successes,paid", [
    (49, 49, 0), (50, 5, 0), (50, 6, 1), (50, 40, 35), (50, 50, 35),
    (30_000, 9_000, 6_000), (30_000, 15_000, 12_000), (30_000, 24_000, 21_000),
    (30_000, 30_000, 21_000),
])
def test_paid_count_at_its_boundaries_and_the_programme_table(attributed, successes,
                                                              paid) -> None:
    assert paid_count(attributed=attributed, successes=successes, floor_share=D("0.10"),
                      ceiling_share=D("0.80"), min_attributed=50) == paid
    settled = settle_counts("P1", successes=successes, failures=attributed - successes,
                            pending=0, payment=PAYMENT)
    assert settled.amount == D(47_000) * paid
    assert settled.eligible is (attributed >= 50)


def test_a_provider_is_final_only_without_pending_prepatients_and_all_appear() -> None:
    evaluations = [judge(person(samples=[lab("40", END)])), judge(person(), as_of=date(2027, 1, 1))]
    first, second, third = settle(["P1", "P2", "P3"], evaluations, PAYMENT)
    assert (first.pending, first.final) == (1, False)
    assert (second.successes, second.final) == (1, True)
    assert (third.attributed, third.amount, third.final) == (0, D("0.00"), True)


@given(attributed=st.integers(min_value=0, max_value=40_000), data=st.data())
def test_paid_count_is_never_negative_nor_above_the_ceiling_less_the_floor(attributed,
                                                                           data) -> None:
    successes = data.draw(st.integers(min_value=0, max_value=attributed))
    paid = paid_count(attributed=attributed, successes=successes, floor_share=D("0.10"),
                      ceiling_share=D("0.80"), min_attributed=50)
    assert 0 <= paid <= max(0, math.floor(D("0.8") * attributed) - math.ceil(D("0.1") * attributed))
    assert paid <= successes


@given(attributed=st.integers(min_value=50, max_value=5_000), data=st.data())
def test_paid_count_is_monotone_in_successes(attributed, data) -> None:
    successes = data.draw(st.integers(min_value=0, max_value=attributed - 1))
    args = {"attributed": attributed, "floor_share": D("0.10"), "ceiling_share": D("0.80"),
            "min_attributed": 50}
    assert paid_count(successes=successes, **args) <= paid_count(successes=successes + 1, **args)
