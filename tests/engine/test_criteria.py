"""Inclusion and priority criteria as data: the prediabetes rules written as data
decide exactly as the coded ones; the other programmes' criteria; errors that name
the place."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prevention_engine import criteria
from prevention_engine.criteria import CriterionError, Facts, Sample


def spec_reason(hba1c: Decimal | None) -> str:
    """The SPEC's inclusion band written out by hand (39–47 here, care from 48)."""
    if hba1c is None:
        return "no_sample"
    if hba1c < 39:
        return "hba1c_below_range"
    if hba1c >= 48:
        return "hba1c_diabetes"
    if hba1c > 47:
        return "hba1c_above_range"
    return "included"


def spec_priority(age: int | None, bmi: Decimal | None, area: bool) -> bool:
    return age is not None and bmi is not None and area and bmi > 30 and 30 <= age <= 75


HBA1C = {"subject": "measure", "measure": "hba1c", "unit": "mmol/mol"}
PREDIABETES = criteria.parse_checks([
    {**HBA1C, "op": "ge", "threshold": "39", "reason": "hba1c_below_range"},
    {**HBA1C, "op": "ge", "threshold": "48", "effect": "refer", "reason": "hba1c_diabetes"},
    {**HBA1C, "op": "le", "threshold": "47", "reason": "hba1c_above_range"},
])
PREDIABETES_PRIORITY = [criteria.parse_condition(raw, f"priority[{i}]") for i, raw in enumerate([
    {"subject": "priority_area", "is": True},
    {"subject": "bmi", "op": "gt", "threshold": "30"},
    {"all": [{"subject": "age", "op": "ge", "threshold": "30"},
             {"subject": "age", "op": "le", "threshold": "75"}]},
])]

hba1c_values = st.one_of(st.none(), st.sampled_from([Decimal(v) for v in (
    "38.9", "39", "39.1", "47", "47.5", "48", "48.1", "120")]),
    st.decimals(min_value=0, max_value=200, places=1))


@settings(max_examples=500, deadline=None)
@given(hba1c=hba1c_values,
       age=st.one_of(st.none(), st.integers(min_value=0, max_value=110)),
       bmi=st.one_of(st.none(), st.decimals(min_value=10, max_value=70, places=1),
                     st.sampled_from([Decimal("30"), Decimal("30.1")])),
       area=st.booleans())
def test_prediabetes_inclusion_as_data_decides_as_the_rule_written_out(
        hba1c: Decimal | None, age: int | None, bmi: Decimal | None, area: bool) -> None:
    facts = Facts(age=age, bmi=bmi, priority_area=area, samples={} if hba1c is None else {
        "hba1c": [Sample(date(2026, 8, 1), hba1c, "lab")]})
    verdict = criteria.decide(PREDIABETES, facts)
    expected = spec_reason(hba1c)
    assert verdict.reason == expected
    assert verdict.included is (expected == "included")
    assert verdict.seek_care is (expected == "hba1c_diabetes")
    assert criteria.all_hold(PREDIABETES_PRIORITY, facts) is spec_priority(age, bmi, area)


FALLS = criteria.parse_checks([
    {"subject": "age", "op": "ge", "threshold": "70", "reason": "age_out_of_range"},
    {"any": [{"subject": "score", "questionnaire": "fall_history", "op": "ge", "threshold": "1"},
             {"subject": "score", "questionnaire": "short_fes_i", "op": "ge",
              "threshold": "11"}],
     "reason": "no_fall_risk"},
])


@pytest.mark.parametrize("age,scores,reason", [
    (72, {"fall_history": 1, "short_fes_i": 7}, "included"),
    (72, {"fall_history": 0, "short_fes_i": 11}, "included"),
    (72, {"fall_history": 0, "short_fes_i": 10}, "no_fall_risk"),
    (72, {"fall_history": 1}, "included"),  # one answered member that holds is enough
    (72, {"short_fes_i": 9}, "no_questionnaire"),  # the other could still hold
    (69, {"fall_history": 1}, "age_out_of_range"),
    (None, {"fall_history": 1}, "missing_age"),
])
def test_an_any_group_holds_on_one_member(age: int | None, scores: dict[str, int],
                                          reason: str) -> None:
    assert criteria.decide(FALLS, Facts(age=age, scores=scores)).reason == reason


def test_a_refer_check_with_a_missing_value_does_not_refuse() -> None:
    checks = criteria.parse_checks([
        {"subject": "measure", "measure": "bp_systolic", "unit": "mmHg", "op": "ge",
         "threshold": "180", "effect": "refer", "reason": "severe_hypertension"},
        {"subject": "sex", "in": ["F"], "reason": "not_eligible_sex"},
    ])
    assert criteria.decide(checks, Facts(sex="F")).included
    verdict = criteria.decide(checks, Facts(sex="F", samples={
        "bp_systolic": [Sample(date(2027, 3, 1), Decimal("185"), "provider")]}))
    assert (verdict.included, verdict.reason, verdict.seek_care) == (
        False, "severe_hypertension", True)
    assert criteria.decide(checks, Facts(sex="M")).reason == "not_eligible_sex"


@pytest.mark.parametrize("raw,path", [
    ({"subject": "height", "op": "ge", "threshold": "1", "reason": "x"}, "inclusion[0].subject"),
    ({"subject": "age", "op": "over", "threshold": "1", "reason": "x"}, "inclusion[0].op"),
    ({"subject": "age", "op": "ge", "threshold": 18, "reason": "x"}, "inclusion[0].threshold"),
    ({"subject": "age", "op": "ge", "threshold": "eighteen", "reason": "x"},
     "inclusion[0].threshold"),
    ({"subject": "age", "op": "ge", "threshold": "18"}, "inclusion[0].reason"),
    ({"subject": "age", "op": "ge", "threshold": "18", "reason": "x", "effect": "maybe"},
     "inclusion[0].effect"),
    ({"subject": "measure", "op": "ge", "threshold": "18", "reason": "x", "unit": "kg"},
     "inclusion[0].measure"),
    ({"subject": "score", "op": "ge", "threshold": "6", "reason": "x", "measure": "weight"},
     "inclusion[0].measure"),
    ({"subject": "sex", "in": ["W"], "reason": "x"}, "inclusion[0].in"),
    ({"subject": "measure", "measure": "steps", "unit": "steps/d", "op": "lt",
      "threshold": "5000", "sources": ["watch"], "reason": "x"}, "inclusion[0].sources"),
    ({"subject": "measure", "measure": "steps", "unit": "steps/d", "op": "lt",
      "threshold": "5000", "aggregate": "median", "reason": "x"}, "inclusion[0].aggregate"),
    ({"subject": "measure", "measure": "steps", "unit": "steps/d", "op": "lt",
      "threshold": "5000", "days": 0, "reason": "x"}, "inclusion[0].days"),
    ({"subject": "priority_area", "is": "yes", "reason": "x"}, "inclusion[0].is"),
    ({"any": [], "reason": "x"}, "inclusion[0].any"),
    ({"any": [{"subject": "age"}], "reason": "x"}, "inclusion[0].any[0].op"),
])
def test_a_criterion_that_cannot_be_evaluated_names_the_place(raw: dict[str, Any],
                                                              path: str) -> None:
    with pytest.raises(CriterionError) as refused:
        criteria.parse_checks([raw])
    assert refused.value.path == path and refused.value.reason


def test_unknown_measures_units_and_questionnaires_are_named() -> None:
    checks = criteria.parse_checks([
        {"subject": "measure", "measure": "weight", "unit": "kg", "op": "ge", "threshold": "1",
         "reason": "x"},
        {"any": [{"subject": "score", "questionnaire": "ucla3", "op": "ge", "threshold": "6"}],
         "reason": "y"},
    ])
    known = {"weight": ["kg", "lb"]}
    criteria.check_known(checks, measures=known, questionnaires=["ucla3"])
    with pytest.raises(CriterionError) as refused:
        criteria.check_known(checks, measures={"weight": ["lb"]}, questionnaires=["ucla3"])
    assert refused.value.path == "inclusion[0].unit"
    with pytest.raises(CriterionError) as refused:
        criteria.check_known(checks, measures={}, questionnaires=["ucla3"])
    assert refused.value.path == "inclusion[0].measure"
    with pytest.raises(CriterionError) as refused:
        criteria.check_known(checks, measures=known, questionnaires=[])
    assert refused.value.path == "inclusion[1].any[0].questionnaire"


STEPS = criteria.parse_checks([
    {"subject": "measure", "measure": "steps", "unit": "steps/d", "sources": ["device"],
     "aggregate": "mean", "days": 14, "op": "lt", "threshold": "5000",
     "reason": "active_enough"},
])


def steps(*days_values: tuple[int, str], source: str = "device") -> dict[str, list[Sample]]:
    return {"steps": [Sample(date(2027, 3, day), Decimal(value), source)
                      for day, value in days_values]}


@pytest.mark.parametrize("samples,on,reason", [
    # The mean of the last 14 days (both ends): 4000 and 5000 → 4500.
    (steps((1, "4000"), (15, "5000")), date(2027, 3, 15), "included"),
    # The 1st is outside 14 days back from the 16th: only 5000 counts.
    (steps((1, "4000"), (15, "5000")), date(2027, 3, 16), "active_enough"),
    # Values from another source do not count.
    (steps((10, "3000"), source="self"), date(2027, 3, 15), "no_sample"),
    # A value after the day of the decision does not count.
    (steps((20, "3000")), date(2027, 3, 15), "no_sample"),
])
def test_a_measure_is_aggregated_over_its_sources_and_days(
        samples: dict[str, list[Sample]], on: date, reason: str) -> None:
    assert criteria.decide(STEPS, Facts(on=on, samples=samples)).reason == reason


def test_the_latest_value_decides_and_the_later_given_on_the_same_day() -> None:
    condition = criteria.parse_condition(
        {"subject": "measure", "measure": "bmi", "unit": "kg/m2", "sources": ["provider", "lab"],
         "op": "ge", "threshold": "30"}, "c")
    samples = {"bmi": [Sample(date(2027, 1, 5), Decimal("31"), "provider"),
                       Sample(date(2027, 1, 9), Decimal("29"), "self"),
                       Sample(date(2027, 1, 7), Decimal("29.5"), "lab"),
                       Sample(date(2027, 1, 7), Decimal("30.5"), "provider")]}
    assert criteria.deciding_value(condition, Facts(samples=samples)) == Decimal("30.5")
