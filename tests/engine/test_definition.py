"""Programme definitions as data: the five shipped programmes are complete, say what
PROGRAMMES.md and SPEC say, settle through the engine, and a definition that cannot be
evaluated names the place."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from prevention_engine import definition, questionnaire
from prevention_engine.criteria import Facts, Sample, decide
from prevention_engine.definition import DefinitionError
from prevention_engine.interchange import recompute_file_content

DATA = Path(__file__).resolve().parents[2] / "data"
SHIPPED = ("prediabetes-2026", "obesity-2027", "activity-2027", "loneliness-2027",
           "falls-2027")
# The measurement types the programmes read, with the units a rule may compare in.
MEASURES = {
    "hba1c": ["mmol/mol", "%"], "triglycerides": ["mmol/L"], "cholesterol_total": ["mmol/L"],
    "ldl": ["mmol/L"], "hdl": ["mmol/L"], "weight": ["kg", "lb"], "height": ["cm"],
    "bmi": ["kg/m2"], "waist": ["cm"], "findrisc": ["score"], "bp_systolic": ["mm[Hg]"],
    "bp_diastolic": ["mm[Hg]"], "steps": ["steps/d"], "tug": ["s"], "ucla3": ["score"],
    "short_fes_i": ["score"], "fall_history": ["score"],
}


def raw(code: str) -> dict[str, Any]:
    return json.loads((DATA / "programmes" / f"{code}.json").read_text("utf-8"))


def questionnaire_codes() -> list[str]:
    return [questionnaire.parse(json.loads(path.read_text("utf-8"))).code
            for path in sorted((DATA / "questionnaires").glob("*.json"))]


@pytest.mark.parametrize("code", SHIPPED)
def test_every_shipped_programme_is_complete_and_names_only_known_things(code: str) -> None:
    parsed = definition.parse(raw(code), measures=MEASURES, questionnaires=questionnaire_codes())
    assert parsed.code == code and parsed.version == 1
    assert all(parsed.name[lang] and parsed.consent[lang] for lang in ("sv", "en"))
    assert parsed.timeline.followup_interval_months == 3
    # Every questionnaire a programme asks is followed up or decides something.
    assert set(parsed.screening_questionnaires) <= set(parsed.questionnaires())


@pytest.mark.parametrize("code,cap,budget,per_success,floor,ceiling,minimum,months", [
    ("prediabetes-2026", 30_000, "1000000000.00", "47000.00", "0.10", "0.80", 50, 24),
    ("obesity-2027", 10_000, "100000000.00", "12000.00", "0.05", "0.60", 20, 12),
    ("activity-2027", 20_000, "120000000.00", "8000.00", "0", "1", 10, 12),
    ("loneliness-2027", 5_000, "25000000.00", "5000.00", "0.10", "0.80", 20, 12),
    ("falls-2027", 8_000, "60000000.00", "10000.00", "0.10", "0.80", 20, 12),
])
def test_the_numbers_are_those_of_the_programme_texts(
        code: str, cap: int, budget: str, per_success: str, floor: str, ceiling: str,
        minimum: int, months: int) -> None:
    parsed = definition.parse(raw(code))
    assert (parsed.cap, parsed.budget, parsed.timeline.programme_months) == (
        cap, Decimal(budget), months)
    assert (parsed.payment.per_success, parsed.payment.floor_share,
            parsed.payment.ceiling_share, parsed.payment.min_attributed) == (
        Decimal(per_success), Decimal(floor), Decimal(ceiling), minimum)
    if code != "prediabetes-2026":
        # PROGRAMMES.md: recruitment 12 months, priority 6, switching during the first
        # three quarters of the individual programme.
        assert (parsed.timeline.recruitment_months, parsed.timeline.priority_months,
                parsed.timeline.switch_months) == (12, 6, 9)


@pytest.mark.parametrize("code,facts,reason", [
    ("obesity-2027", Facts(age=45, samples={"bmi": [
        Sample(date(2027, 2, 1), Decimal("33.2"), "provider")]}), "included"),
    ("obesity-2027", Facts(age=45, samples={"bmi": [Sample(
        date(2027, 2, 1), Decimal("33.2"), "self")]}), "no_sample"),
    ("obesity-2027", Facts(age=71), "age_out_of_range"),
    ("loneliness-2027", Facts(age=70, scores={"ucla3": 6}), "included"),
    ("loneliness-2027", Facts(age=70, scores={"ucla3": 5}), "score_below_threshold"),
    ("falls-2027", Facts(age=80, scores={"fall_history": 0, "short_fes_i": 12}, samples={
        "tug": [Sample(date(2027, 3, 1), Decimal("14"), "provider")]}),
     "included"),
    ("falls-2027", Facts(age=80, scores={"fall_history": 1, "short_fes_i": 7}), "no_sample"),
])
def test_inclusion_follows_the_definition(code: str, facts: Facts, reason: str) -> None:
    assert decide(definition.parse(raw(code)).inclusion, facts).reason == reason


def settle(code: str, prepatients: list[dict[str, Any]], as_of: str,
           conversions: tuple[dict[str, str], ...] = ()) -> dict[str, tuple[str, str]]:
    document = {
        "format": "prevention-settlement-input/2", "as_of": as_of,
        "programme": definition.settlement_programme(raw(code), conversions),
        "providers": [{"id": "P1", "name": "One"}], "prepatients": prepatients,
    }
    result = recompute_file_content(json.dumps(document))
    return {e.id: (e.result.value, e.reason) for e in result.evaluations}


def person(pid: str, baseline: dict[str, str] | None,
           measurements: list[tuple[str, str, str, str, str]],
           enrolled_on: str = "2027-02-01") -> dict[str, Any]:
    return {
        "id": pid, "enrolled_on": enrolled_on,
        "baseline": None if baseline is None else {"on": enrolled_on, "values": {
            measure: {"value": value.split()[0], "unit": value.split()[1]}
            for measure, value in baseline.items()}},
        "listings": [{"provider": "P1", "from": enrolled_on}], "events": [],
        "measurements": [{"type": m, "value": v, "unit": u, "taken_on": on, "source": s}
                         for m, v, u, on, s in measurements],
    }


def test_obesity_pays_a_mean_weight_at_least_five_percent_below_baseline() -> None:
    lines = settle("obesity-2027", [
        person("lost-6", {"weight": "100 kg"}, [("weight", "95", "kg", "2028-01-25", "provider"),
                                                ("weight", "93", "kg", "2028-02-10", "device")]),
        person("lost-4", {"weight": "100 kg"}, [("weight", "96", "kg", "2028-02-01", "lab")]),
        person("pounds", {"weight": "100 kg"}, [("weight", "209", "lb", "2028-02-01", "device")]),
        person("self-only", {"weight": "100 kg"}, [("weight", "90", "kg", "2028-02-01", "self")]),
    ], "2028-06-30", conversions=({"measure": "weight", "from": "lb", "to": "kg", "offset": "0",
                                   "factor": "0.45359237"},))
    assert lines == {
        "lost-6": ("success", "target_met"),  # mean 94: -6 %
        "lost-4": ("failure", "target_not_met:weight"),
        "pounds": ("success", "target_met"),  # 209 lb = 94.8 kg: -5.2 %
        "self-only": ("failure", "no_outcome_sample:weight"),
    }


def test_activity_needs_both_criteria_and_is_disqualified_by_severe_hypertension() -> None:
    steps = [("steps", "7400", "steps/d", "2028-02-0" + str(day), "device") for day in (1, 5)]
    lines = settle("activity-2027", [
        person("both", {"waist": "98 cm"}, [*steps, ("waist", "95.5", "cm", "2028-02-01",
                                                     "provider")]),
        person("waist-only", {"waist": "98 cm"}, [("steps", "6000", "steps/d", "2028-02-01",
                                                   "device"),
                                                  ("waist", "95", "cm", "2028-02-01",
                                                   "provider")]),
        person("hypertension", {"waist": "98 cm"}, [
            *steps, ("waist", "95", "cm", "2028-02-01", "provider"),
            ("bp_systolic", "182", "mm[Hg]", "2027-08-01", "provider")]),
    ], "2028-06-30")
    assert lines == {"both": ("success", "target_met"),
                     "waist-only": ("failure", "target_not_met:steps"),
                     "hypertension": ("failure", "disqualified:severe_hypertension")}


def test_loneliness_and_falls_settle_on_scores() -> None:
    assert settle("loneliness-2027", [
        person("better", {}, [("ucla3", "5", "score", "2028-02-15", "self")]),
        person("same", {}, [("ucla3", "7", "score", "2028-02-15", "provider")]),
    ], "2028-06-30") == {"better": ("success", "target_met"),
                         "same": ("failure", "target_not_met:ucla3")}
    assert settle("falls-2027", [
        person("steady", {}, [("tug", "11.2", "s", "2028-02-01", "provider"),
                              ("short_fes_i", "12", "score", "2028-02-01", "self")]),
        person("slow", {}, [("tug", "12", "s", "2028-02-01", "provider"),
                            ("short_fes_i", "9", "score", "2028-02-01", "self")]),
    ], "2028-06-30") == {"steady": ("success", "target_met"),
                         "slow": ("failure", "target_not_met:tug")}


def broken(code: str, change: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw(code))
    change(data)
    return data


SAVINGS = {"direct_healthcare": "100000", "lost_production": "0", "social_insurance": "0",
           "annual_onset_risk": "0.1", "annual_relapse": "0.2", "discount_rate": "0.03",
           "horizon_years": "20"}


def test_savings_parameters_are_read_whole_or_not_at_all() -> None:
    parsed = definition.parse(broken("obesity-2027", lambda d: d.update(savings=SAVINGS)))
    assert parsed.savings == {key: Decimal(value) for key, value in SAVINGS.items()}
    assert definition.parse(broken("obesity-2027", lambda d: d.pop("savings", None))
                            ).savings == {}


@pytest.mark.parametrize("change,path", [
    (lambda d: d.update(colour="blue"), "colour"),
    (lambda d: d.update(version="1"), "version"),
    (lambda d: d["name"].pop("sv"), "name.sv"),
    (lambda d: d["timeline"].update(start_date="2027-13-01"), "timeline.start_date"),
    (lambda d: d["timeline"].update(priority_months=13), "timeline.priority_months"),
    (lambda d: d["timeline"].update(switch_months=13), "timeline.switch_months"),
    (lambda d: d["timeline"].update(weeks=3), "timeline.weeks"),
    (lambda d: d.update(cap=0), "cap"),
    (lambda d: d.update(budget=100000000), "budget"),
    (lambda d: d.update(budget="100000000.001"), "budget"),
    (lambda d: d.update(inclusion=[]), "inclusion"),
    (lambda d: d["inclusion"][2].update(op="above"), "inclusion[2].op"),
    (lambda d: d["outcome"]["criteria"][0].update(compare="ratio"), "outcome.criteria[0].compare"),
    (lambda d: d["outcome"].update(criteria=[]), "outcome.criteria"),
    (lambda d: d["payment"].update(floor_share="0.9"), "payment.floor_share"),
    (lambda d: d["payment"].update(currency="EUR"), "payment.currency"),
    (lambda d: d["payment"].update(payments_until="2027-01-01"), "payment.payments_until"),
    (lambda d: d["followup"].update(measures=[]), "followup.measures"),
    (lambda d: d.update(safety=[{"subject": "age", "op": "ge", "threshold": "1",
                                 "reason": "x"}]), "safety[0].effect"),
    # The savings model: all its parameters or none, each a number it can use.
    (lambda d: d.update(savings={"direct_healthcare": "1"}), "savings.lost_production"),
    (lambda d: d.update(savings={**SAVINGS, "cure_rate": "0.5"}), "savings.cure_rate"),
    (lambda d: d.update(savings={**SAVINGS, "annual_relapse": "1.2"}),
     "savings.annual_relapse"),
    (lambda d: d.update(savings={**SAVINGS, "horizon_years": "7.5"}), "savings.horizon_years"),
    (lambda d: d.update(savings={**SAVINGS, "discount_rate": 0.03}), "savings.discount_rate"),
])
def test_a_definition_that_cannot_be_evaluated_names_the_place(change: Any, path: str) -> None:
    with pytest.raises(DefinitionError) as refused:
        definition.parse(broken("obesity-2027", change))
    assert refused.value.path == path and refused.value.reason


@pytest.mark.parametrize("change,path", [
    (lambda d: d["followup"]["measures"].append("grip_strength"), "followup.measures[4]"),
    (lambda d: d["inclusion"][2].update(measure="body_fat"), "inclusion[2].measure"),
    (lambda d: d["inclusion"][2].update(unit="kg/cm2"), "inclusion[2].unit"),
    (lambda d: d["outcome"]["criteria"][0].update(unit="stone"), "outcome.criteria[0].unit"),
    (lambda d: d["screening"]["questionnaires"].append("phq9"),
     "screening.questionnaires[0]"),
])
def test_a_definition_naming_an_unknown_measure_or_questionnaire_is_refused(
        change: Any, path: str) -> None:
    with pytest.raises(DefinitionError) as refused:
        definition.parse(broken("obesity-2027", change), measures=MEASURES,
                         questionnaires=questionnaire_codes())
    assert refused.value.path == path
