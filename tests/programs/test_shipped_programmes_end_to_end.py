"""Each programme shipped beside prediabetes, end to end with no code of its own:
sign-up → screening → inclusion → choice → follow-up values from the API → a
settlement with the expected lines, whose auditor's file the engine recomputes to the
same lines (PROGRAMMES.md; the definitions are data in ``data/programmes``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apps.core import clock
from apps.programs.models import Programme
from apps.programs.services import shipped_definitions_publish
from apps.registry.services import inclusion_sample_record_self, inclusion_sample_verify
from tests.factories import UserFactory
from tests.programs.journeys import Journey, after_the_window

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[2] / "data"
SIGN_UP = date(2027, 1, 20)  # in the priority phase of every 2027 programme
ENROLL = date(2027, 2, 1)


@pytest.fixture
def journey(tmp_path: Path, django_capture_on_commit_callbacks: Any) -> Any:
    shipped_definitions_publish(directory=DATA, author=UserFactory(username="drafts"),
                                publisher=UserFactory(username="publishes"))
    register = tmp_path / "register.csv"
    register.write_text("personnummer,postcode\n")

    def start(code: str) -> Journey:
        return Journey(Programme.objects.get(code=code), register,
                       django_capture_on_commit_callbacks)

    return start


def settled_as_expected(journey: Journey, expected: dict[str, tuple[str, str]],
                        folder: Path) -> None:
    people = list(journey.programme.prepatients.filter(enrolled_on__isnull=False))
    run, lines = journey.settle(after_the_window(journey, people))
    assert lines == expected
    result = journey.recomputed(run, folder)
    assert {p["id"]: (p["result"], p["reason"]) for p in result["prepatients"]} == lines
    assert Decimal(result["total_amount"]) == run.total_amount
    assert result["programme"] == journey.programme.code


def test_obesity_pays_for_five_percent_weight_loss_at_twelve_months(journey: Any,
                                                                     tmp_path: Path) -> None:
    obesity = journey("obesity-2027")
    assert obesity.terms.screening_questionnaires == ()  # the way in is a measurement
    low = obesity.person(born=date(1980, 3, 1), on=SIGN_UP)
    obesity.lab_result(low, "bmi", "27.5", "kg/m2", on=SIGN_UP)
    assert obesity.decision(low, on=ENROLL) == "bmi_below_range"

    people = []
    for born, bmi in ((date(1975, 5, 10), "32.5"), (date(1968, 9, 2), "35.0")):
        person = obesity.person(born=born, on=SIGN_UP)
        stored = obesity.lab_result(person, "bmi", bmi, "kg/m2", on=SIGN_UP)
        assert (stored["type"], stored["value"]) == ("bmi", bmi.rstrip("0").rstrip("."))
        assert obesity.decision(person, on=ENROLL) == "included"
        people.append(obesity.enroll(person, on=ENROLL))
    lost, kept = people
    start = [("weight", "100.0", "kg"), ("waist", "112", "cm"), ("bp_systolic", "135", "mm[Hg]"),
             ("bp_diastolic", "85", "mm[Hg]")]
    obesity.followed(lost, start, [("weight", "94.0", "kg"), *start[1:]])  # −6 %
    obesity.followed(kept, start, [("weight", "98.0", "kg"), *start[1:]])  # −2 %
    settled_as_expected(obesity, {lost.pseudonym: ("success", "target_met"),
                                  kept.pseudonym: ("failure", "target_not_met:weight")},
                        tmp_path)


def test_loneliness_is_decided_by_the_questionnaire_and_paid_for_a_lower_score(
        journey: Any, tmp_path: Path) -> None:
    loneliness = journey("loneliness-2027")
    often = {"lack_companionship": "often", "left_out": "often", "isolated": "often"}
    rarely = dict.fromkeys(often, "hardly_ever")
    content = loneliness.person(born=date(1955, 4, 4), on=SIGN_UP)
    assert loneliness.answer(content, {"ucla3": rarely}, on=SIGN_UP) is False
    assert loneliness.decision(content, on=ENROLL) == "score_below_threshold"

    people = []
    for born in (date(1954, 6, 1), date(1950, 11, 30)):
        person = loneliness.person(born=born, on=SIGN_UP)
        assert loneliness.answer(person, {"ucla3": often}, on=SIGN_UP) is True
        assert loneliness.decision(person, on=ENROLL) == "included"  # no sample needed
        people.append(loneliness.enroll(person, on=ENROLL))
    better, same = people
    loneliness.followed(better, [("ucla3", "9", "score")], [("ucla3", "4", "score")],
                        middle=[("ucla3", "7", "score")])
    loneliness.followed(same, [("ucla3", "9", "score")], [("ucla3", "7", "score")])
    settled_as_expected(loneliness, {better.pseudonym: ("success", "target_met"),
                                     same.pseudonym: ("failure", "target_not_met:ucla3")},
                        tmp_path)


def test_falls_needs_a_fall_risk_and_a_timed_up_and_go_and_pays_for_both_improving(
        journey: Any, tmp_path: Path) -> None:
    falls = journey("falls-2027")
    worried = {"fall_history": {"fell_last_12_months": "yes"},
               "short_fes_i": dict.fromkeys(
                   ("dressing", "bathing", "chair", "stairs", "reaching", "slope",
                    "social_event"), "fairly")}
    steady = {"fall_history": {"fell_last_12_months": "no"},
              "short_fes_i": dict.fromkeys(worried["short_fes_i"], "not_at_all")}
    sure = falls.person(born=date(1948, 2, 2), on=SIGN_UP)
    assert falls.answer(sure, steady, on=SIGN_UP) is False
    assert falls.decision(sure, on=ENROLL) == "no_fall_risk"

    people = []
    for born in (date(1950, 1, 15), date(1945, 7, 7)):
        person = falls.person(born=born, on=SIGN_UP)
        assert falls.answer(person, worried, on=SIGN_UP) is True
        assert falls.decision(person, on=ENROLL) == "no_sample"  # the TUG is still to come
        falls.lab_result(person, "tug", "14.2", "s", on=SIGN_UP)
        assert falls.decision(person, on=ENROLL) == "included"
        people.append(falls.enroll(person, on=ENROLL))
    steadier, slower = people
    start = [("tug", "14.2", "s"), ("short_fes_i", "21", "score")]
    falls.followed(steadier, start, [("tug", "10.5", "s"), ("short_fes_i", "12", "score")])
    falls.followed(slower, start, [("tug", "13.0", "s"), ("short_fes_i", "12", "score")])
    settled_as_expected(falls, {steadier.pseudonym: ("success", "target_met"),
                                slower.pseudonym: ("failure", "target_not_met:tug")},
                        tmp_path)


def test_activity_takes_a_checked_step_count_and_pays_for_steps_and_a_smaller_waist(
        journey: Any, tmp_path: Path) -> None:
    activity = journey("activity-2027")
    caseworker = UserFactory(username="checks-steps", is_staff=True)
    people = []
    for born in (date(1970, 8, 8), date(1962, 12, 24)):
        person = activity.person(born=born, on=SIGN_UP)
        with clock.travel_to(SIGN_UP):
            sample = inclusion_sample_record_self(prepatient=person, measure="steps",
                                                  value=Decimal("3200"), taken_on=SIGN_UP)
        assert activity.decision(person, on=ENROLL) == "no_sample"  # not yet checked
        with clock.travel_to(SIGN_UP):
            inclusion_sample_verify(sample=sample, caseworker=caseworker,
                                    note="Seen in the person's step counter app")
        assert activity.decision(person, on=date(2027, 1, 30)) == "included"
        people.append(activity.enroll(person, on=date(2027, 1, 30)))
    active, idle = people
    start = [("steps", "3200", "steps/d"), ("waist", "104", "cm"),
             ("bp_systolic", "140", "mm[Hg]"), ("bp_diastolic", "88", "mm[Hg]")]
    activity.followed(active, start, [("steps", "8100", "steps/d"), ("waist", "100", "cm"),
                                      *start[2:]])
    activity.followed(idle, start, [("steps", "4000", "steps/d"), ("waist", "103", "cm"),
                                    *start[2:]])
    settled_as_expected(activity, {active.pseudonym: ("success", "target_met"),
                                   idle.pseudonym: ("failure", "target_not_met:steps")},
                        tmp_path)


def test_the_obesity_forecast_follows_provider_weights_and_their_change_from_baseline(
        journey: Any) -> None:
    """The forecast reads the criterion: weights reported by the provider count, and
    success is a 5 % loss from the person's own baseline, not a weight below 5."""
    from apps.settlements.forecast import forecast_programme
    from prevention_engine.dates import add_months

    obesity = journey("obesity-2027")
    people = []
    for born, bmi in ((date(1975, 5, 10), "32.5"), (date(1968, 9, 2), "35.0")):
        person = obesity.person(born=born, on=SIGN_UP)
        obesity.lab_result(person, "bmi", bmi, "kg/m2", on=SIGN_UP)
        people.append(obesity.enroll(person, on=ENROLL))
    losing, slow = people
    rest = [("waist", "112", "cm"), ("bp_systolic", "135", "mm[Hg]"),
            ("bp_diastolic", "85", "mm[Hg]")]
    for person, weights in ((losing, ("100.0", "97.0", "94.0")),
                            (slow, ("100.0", "99.5", "99.0"))):
        for month, weight in zip((0, 3, 6), weights, strict=True):
            obesity.values(person, add_months(ENROLL, month), [("weight", weight, "kg"), *rest])
    with clock.travel_to(add_months(ENROLL, 6)):
        result = forecast_programme(obesity.programme)
    (provider,) = result.providers
    # Quarter means 100, 98.25, 96.5: −1.75 a quarter, two quarters to go.
    assert provider.quarterly_change == Decimal("-1.75")
    projected = {p.id: (p.projected, p.expected_success) for p in result.projections}
    assert projected[losing.pseudonym] == (Decimal("90.5"), True)  # −9.5 % from 100
    assert projected[slow.pseudonym] == (Decimal("95.5"), False)  # −4.5 %
    assert provider.expected_successes == 1
