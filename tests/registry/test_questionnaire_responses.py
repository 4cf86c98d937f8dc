"""Answers kept as responses to a questionnaire version (data), scored by its
definition, refused naming the item that does not fit, and given as FHIR."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apps.core import clock
from apps.core.errors import InvalidInput
from apps.programs.models import Questionnaire
from apps.programs.services import shipped_definitions_publish
from apps.registry.errors import InvalidTransition
from apps.registry.models import QuestionnaireResponse
from apps.registry.selectors import questionnaire_response_fhir
from apps.registry.services import questionnaire_response_record, screening_submit
from prevention_engine.findrisc import FamilyHistory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[2] / "data"
DAY = date(2026, 8, 3)


def answers(**changes: Any) -> dict[str, Any]:
    base = dict(height_cm=Decimal("170"), weight_kg=Decimal("78"), waist_cm=Decimal("85"),
                physically_active=False, eats_vegetables_daily=False,
                antihypertensive_medication=True, high_glucose_history=False,
                family_history=FamilyHistory.SECOND_DEGREE)
    return {**base, **changes}


@pytest.fixture
def candidate(make_candidate: Any) -> Any:
    with clock.travel_to(DAY):
        return make_candidate(born=date(1976, 1, 15), bmi=None, hba1c=None)


@pytest.mark.parametrize("changes", [{}, {"physically_active": True},
                                     {"family_history": FamilyHistory.FIRST_DEGREE,
                                      "waist_cm": Decimal("95")}])
def test_a_screening_is_also_kept_as_a_response_scored_by_the_definition(
        candidate: Any, changes: dict[str, Any]) -> None:
    shipped_definitions_publish(directory=DATA, author=UserFactory(), publisher=UserFactory())
    with clock.travel_to(DAY):
        result = screening_submit(prepatient=candidate, **answers(**changes))
    response = QuestionnaireResponse.objects.get(prepatient=candidate)
    assert response.score == result.screening.score
    assert response.questionnaire.code == "findrisc" and response.band
    assert response.answers["bmi"] == "27.0" and response.answers["sex"] == candidate.sex


def test_an_answer_that_does_not_fit_is_refused_naming_its_item(candidate: Any) -> None:
    shipped_definitions_publish(directory=DATA, author=UserFactory(), publisher=UserFactory())
    ucla = Questionnaire.objects.get(code="ucla3")
    with pytest.raises(InvalidInput) as refused:
        questionnaire_response_record(prepatient=candidate, questionnaire=ucla, answers={
            "lack_companionship": "often", "left_out": "always", "isolated": "often"})
    assert list(refused.value.fields) == ["left_out"]
    with pytest.raises(InvalidInput) as refused:
        questionnaire_response_record(prepatient=candidate, questionnaire=ucla, answers={
            "lack_companionship": "often", "left_out": "often"})
    assert list(refused.value.fields) == ["isolated"]
    assert not QuestionnaireResponse.objects.exists()


def test_a_draft_questionnaire_takes_no_answers(candidate: Any) -> None:
    draft = Questionnaire.objects.create(code="draft", version=1, definition={})
    with pytest.raises(InvalidTransition):
        questionnaire_response_record(prepatient=candidate, questionnaire=draft, answers={})


def test_a_response_is_append_only_and_given_as_fhir(candidate: Any) -> None:
    shipped_definitions_publish(directory=DATA, author=UserFactory(), publisher=UserFactory())
    fes = Questionnaire.objects.get(code="short_fes_i")
    items = [item["link_id"] for item in fes.definition["items"]]
    with clock.travel_to(DAY):
        response = questionnaire_response_record(
            prepatient=candidate, questionnaire=fes,
            answers=dict.fromkeys(items, "fairly") | {"slope": "very"})
    assert (response.score, response.band) == (22, "high")
    with pytest.raises(ValueError, match="append-only"):
        response.save()
    resource = questionnaire_response_fhir(response)
    assert resource["resourceType"] == "QuestionnaireResponse"
    assert resource["status"] == "completed"
    assert resource["questionnaire"] == "urn:prevention:questionnaire:short_fes_i|1"
    assert resource["subject"]["identifier"]["value"] == candidate.pseudonym
    assert "personnummer" not in str(resource)
    assert resource["item"][-1] == {"linkId": "social_event",
                                    "answer": [{"valueCoding": {"code": "fairly"}}]}
    assert resource["extension"][0]["valueInteger"] == 22
