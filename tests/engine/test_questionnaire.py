"""Questionnaires as data: the shipped definitions, their scores, and the errors a
caseworker sees for a definition or an answer that cannot be evaluated."""

from __future__ import annotations

import copy
import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prevention_engine import questionnaire
from prevention_engine.findrisc import FamilyHistory, FindriscAnswers, findrisc_score
from prevention_engine.questionnaire import AnswerError, DefinitionError

DEFINITIONS = Path(__file__).resolve().parents[2] / "data" / "questionnaires"


def load(name: str) -> questionnaire.Questionnaire:
    return questionnaire.parse(json.loads((DEFINITIONS / f"{name}.json").read_text("utf-8")))


def raw(name: str) -> dict[str, Any]:
    return json.loads((DEFINITIONS / f"{name}.json").read_text("utf-8"))


FINDRISC = load("findrisc")


def findrisc_as_answers(answers: FindriscAnswers) -> dict[str, Any]:
    def yes_no(value: bool) -> str:
        return "yes" if value else "no"

    return {
        "sex": answers.sex, "age": answers.age, "bmi": answers.bmi, "waist": answers.waist_cm,
        "physically_active": yes_no(answers.physically_active),
        "vegetables_daily": yes_no(answers.eats_vegetables_daily),
        "antihypertensive_medication": yes_no(answers.antihypertensive_medication),
        "high_glucose_history": yes_no(answers.high_glucose_history),
        "family_history": answers.family_history.value,
    }


# Values on and around every band edge of FINDRISC, and a spread between them.
EDGES = [Decimal(v) for v in ("0", "24.9", "25", "25.05", "29.95", "30", "30.05", "30.1",
                              "79.9", "80", "88", "88.05", "93.9", "94", "102", "102.05",
                              "102.1", "250")]
decimal_answers = st.one_of(st.sampled_from(EDGES),
                            st.decimals(min_value=0, max_value=300, places=2))


@settings(max_examples=600, deadline=None)
@given(sex=st.sampled_from(["F", "M"]),
       age=st.one_of(st.sampled_from([0, 44, 45, 54, 55, 64, 65, 120]),
                     st.integers(min_value=0, max_value=130)),
       bmi=decimal_answers, waist=decimal_answers, flags=st.tuples(*[st.booleans()] * 4),
       family=st.sampled_from(list(FamilyHistory)))
def test_findrisc_as_data_scores_exactly_as_the_coded_score(
        sex: str, age: int, bmi: Decimal, waist: Decimal, flags: tuple[bool, ...],
        family: FamilyHistory) -> None:
    answers = FindriscAnswers(sex, age, bmi, waist, *flags, family_history=family)
    scored = questionnaire.score(FINDRISC, findrisc_as_answers(answers))
    assert scored.total == findrisc_score(answers)
    assert sum(scored.points.values()) == scored.total
    assert scored.band is not None and scored.band.lower <= scored.total <= scored.band.upper


def test_findrisc_bands_are_the_published_ones() -> None:
    assert FINDRISC.score_range == (0, 26)
    assert [(band.lower, band.upper, band.code) for band in FINDRISC.score_bands] == [
        (0, 6, "low"), (7, 11, "slightly_elevated"), (12, 14, "moderate"), (15, 20, "high"),
        (21, 26, "very_high")]


def test_ucla3_scores_three_to_nine_on_every_combination() -> None:
    ucla = load("ucla3")
    codes = ["hardly_ever", "some_of_the_time", "often"]
    totals = set()
    for combination in itertools.product(codes, repeat=3):
        answers = dict(zip(("lack_companionship", "left_out", "isolated"), combination,
                           strict=True))
        scored = questionnaire.score(ucla, answers)
        assert scored.total == sum(codes.index(code) + 1 for code in combination)
        assert scored.band is not None
        assert scored.band.code == ("lonely" if scored.total >= 6 else "not_lonely")
        totals.add(scored.total)
    assert totals == set(range(3, 10)) and ucla.score_range == (3, 9)


@pytest.mark.parametrize("total,band", [(7, "low"), (8, "low"), (9, "moderate"),
                                        (13, "moderate"), (14, "high"), (28, "high")])
def test_short_fes_i_bands(total: int, band: str) -> None:
    fes = load("short_fes_i")
    assert fes.score_range == (7, 28) and len(fes.items) == 7
    found = questionnaire.band_of(fes, total)
    assert found is not None and found.code == band


def test_every_shipped_definition_has_both_languages_everywhere() -> None:
    for path in sorted(DEFINITIONS.glob("*.json")):
        definition = questionnaire.parse(json.loads(path.read_text("utf-8")))
        texts = [definition.title, *(item.text for item in definition.items),
                 *(option.text for item in definition.items for option in item.options),
                 *(band.meaning for band in definition.score_bands)]
        assert all(text["sv"] and text["en"] for text in texts), path.name


# --- A definition that cannot be evaluated names where ------------------------------


def broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw("findrisc"))
    change(data)
    return data


@pytest.mark.parametrize("change,path", [
    (lambda d: d.pop("code"), "code"),
    (lambda d: d.update(version=0), "version"),
    (lambda d: d["title"].pop("en"), "title.en"),
    (lambda d: d.update(items=[]), "items"),
    (lambda d: d["items"][1].update(kind="free text"), "items[1].kind"),
    (lambda d: d["items"][4]["options"].pop(), "items[4].options"),
    (lambda d: d["items"][4]["options"][1].update(points="two"), "items[4].options[1].points"),
    (lambda d: d["items"][4]["options"][1].update(code="yes"), "items[4].options[1].code"),
    (lambda d: d["items"][2]["bands"][1].update(ge="twenty-five"), "items[2].bands[1].ge"),
    (lambda d: d["items"][2]["bands"][1].update(gt=25), "items[2].bands[1].gt"),
    (lambda d: d["items"][2]["bands"][1].update(above=25), "items[2].bands[1].above"),
    (lambda d: d["items"][3]["bands"][0].update(when={"gender": "M"}),
     "items[3].bands[0].when.gender"),
    (lambda d: d["items"][3]["bands"][0].update(when={"sex": "X"}),
     "items[3].bands[0].when.sex"),
    (lambda d: d["items"][3].update(link_id="sex"), "items[3].link_id"),
    (lambda d: d["score_bands"][1].update(ge=8), "score_bands[1].ge"),
    (lambda d: d["score_bands"].pop(), "score_bands"),
])
def test_a_definition_that_cannot_be_evaluated_names_the_place(change: Any, path: str) -> None:
    with pytest.raises(DefinitionError) as refused:
        questionnaire.parse(broken(change))
    assert refused.value.path == path
    assert refused.value.reason


# --- Answers that do not fit name their item ----------------------------------------


def findrisc_answers(**changes: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "sex": "F", "age": 50, "bmi": Decimal("27.3"), "waist": "85", "physically_active": "no",
        "vegetables_daily": "yes", "antihypertensive_medication": "no",
        "high_glucose_history": "no", "family_history": "second"}
    answers.update(changes)
    return {key: value for key, value in answers.items() if value is not None}


def test_a_complete_answer_set_gives_its_points_per_item() -> None:
    scored = questionnaire.score(FINDRISC, findrisc_answers())
    assert scored.points == {"sex": 0, "age": 2, "bmi": 1, "waist": 3, "physically_active": 2,
                             "vegetables_daily": 0, "antihypertensive_medication": 0,
                             "high_glucose_history": 0, "family_history": 3}
    assert scored.total == 11 and scored.band is not None and scored.band.code == (
        "slightly_elevated")
    assert scored.answers["waist"] == Decimal("85")


@pytest.mark.parametrize("changes,item", [
    ({"age": None}, "age"),
    ({"sex": "X"}, "sex"),
    ({"family_history": "first degree"}, "family_history"),
    ({"age": -1}, "age"),
    ({"bmi": "much"}, "bmi"),
    ({"bmi": "NaN"}, "bmi"),
    ({"waist": True}, "waist"),
    ({"smoker": "yes"}, "smoker"),
])
def test_an_answer_that_does_not_fit_names_its_item(changes: dict[str, Any], item: str) -> None:
    with pytest.raises(AnswerError) as refused:
        questionnaire.score(FINDRISC, findrisc_answers(**changes))
    assert refused.value.link_id == item


def test_a_value_no_band_holds_is_refused_not_scored_zero() -> None:
    data = raw("findrisc")
    data["items"][2]["bands"] = [{"ge": 25, "le": 30, "points": 1}]  # BMI: one band only
    data["score_bands"] = []
    gappy = questionnaire.parse(data)
    with pytest.raises(AnswerError) as refused:
        questionnaire.score(gappy, findrisc_answers(bmi="22"))
    assert refused.value.link_id == "bmi"
