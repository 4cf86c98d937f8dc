"""The way into the programme: consent, personnummer, questionnaire, blood test, result."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from apps.consent.models import ConsentEvent, ConsentKind
from apps.consent.services import consent_grant, consent_text_publish
from apps.core import clock
from apps.core.crypto import encrypt
from apps.programs.models import Programme
from apps.programs.selectors import programme_terms
from apps.registry.models import (
    InclusionSample,
    Prepatient,
    ReferralCode,
    SampleSource,
    Screening,
)
from apps.registry.services import (
    inclusion_sample_record_lab,
    prepatient_register,
    prepatient_set_identity,
    screening_submit,
)
from apps.site.models import QuestionnaireDraft
from apps.site.views_journey import REFERRAL_SESSION_KEY, VERIFIED_PERSONNUMMER_SESSION_KEY
from prevention_engine.findrisc import FamilyHistory
from tests.factories import ProviderFactory, UserFactory
from tests.providers.factories import LabFactory
from tests.registry.builders import personnummer

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 2)  # in the priority phase (the programme starts 2026-01-01)


# --- Fixtures and helpers -----------------------------------------------------------


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.travel_to(TODAY):
        yield


@pytest.fixture
def people(tmp_path: Path, settings: Any, programme: Any, consent_texts: Any) -> Any:
    """Personnummer in a test register: one in a priority area, one outside, one unknown."""
    inside = personnummer(date(1970, 5, 10), 11, male=False)  # 55 years old
    outside = personnummer(date(1980, 1, 2), 12, male=True)
    other = personnummer(date(1975, 8, 20), 13, male=False)
    unknown = personnummer(date(1975, 3, 3), 14, male=True)
    path = tmp_path / "people.csv"
    path.write_text(f"personnummer,postcode\n{inside},16355\n{outside},11122\n{other},16355\n")
    settings.POPULATION_REGISTER_CSV = str(path)
    programme.vulnerable_postcodes.get_or_create(postcode="16355", area_name="Test area")
    return SimpleNamespace(inside=inside, outside=outside, other=other, unknown=unknown,
                           programme=programme, texts=consent_texts)


def person(programme: Any) -> tuple[Client, Prepatient]:
    user = UserFactory()
    client = Client()
    client.force_login(user)
    return client, prepatient_register(programme=programme, user=user)


def consented(people: Any) -> tuple[Client, Prepatient]:
    client, prepatient = person(people.programme)
    consent_grant(prepatient=prepatient, text=people.texts[ConsentKind.DATA_SHARING])
    return client, prepatient


def identified(people: Any, number: str | None = None) -> tuple[Client, Prepatient]:
    client, prepatient = consented(people)
    prepatient = prepatient_set_identity(prepatient=prepatient,
                                         personnummer=number or people.inside)
    return client, prepatient


HIGH = dict(height_cm=Decimal("170"), weight_kg=Decimal("84"), waist_cm=Decimal("101"),
            physically_active=False, eats_vegetables_daily=False,
            antihypertensive_medication=False, high_glucose_history=True,
            family_history=FamilyHistory.NONE)
LOW = dict(height_cm=Decimal("170"), weight_kg=Decimal("60"), waist_cm=Decimal("70"),
           physically_active=True, eats_vegetables_daily=True,
           antihypertensive_medication=False, high_glucose_history=False,
           family_history=FamilyHistory.NONE)


def screened(people: Any, *, high: bool = True, number: str | None = None) -> Any:
    client, prepatient = identified(people, number)
    result = screening_submit(prepatient=prepatient, **(HIGH if high else LOW))
    return client, prepatient, result.referral_code


def with_lab_result(people: Any, hba1c: str, *, number: str | None = None) -> Any:
    client, prepatient, code = screened(people, number=number)
    inclusion_sample_record_lab(code=code, value=Decimal(hba1c), taken_on=TODAY,
                                lab_reference="LAB-1")
    return client, prepatient


def text(response: Any) -> str:
    return response.content.decode()


def token(response: Any) -> str:
    match = re.search(r'name="once" value="([0-9a-f]+)"', text(response))
    assert match, "the form has no submit-once token"
    return match[1]


ANSWERS = {
    1: {"height_cm": "170", "weight_kg": "84", "waist_cm": "101"},
    2: {"physically_active": "no", "eats_vegetables_daily": "no"},
    3: {"antihypertensive_medication": "no", "high_glucose_history": "yes"},
    4: {"family_history": "none"},
}


def answer_all(client: Client, answers: dict[int, dict[str, str]] = ANSWERS) -> None:
    for part, data in answers.items():
        url = f"/join/questionnaire/{part}/"
        response = client.post(url, {**data, "action": "continue",
                                     "once": token(client.get(url))})
        assert response.status_code == 302, text(response)


# --- Sign-in and order --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/join/consent/", "/join/personnummer/",
                                  "/join/questionnaire/", "/join/blood-test/", "/join/result/"])
def test_every_page_needs_sign_in(people: Any, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("path", ["/join/personnummer/", "/join/questionnaire/",
                                  "/join/questionnaire/3/", "/join/blood-test/", "/join/result/"])
def test_later_steps_send_a_new_person_back_to_consent(people: Any, path: str) -> None:
    client, _prepatient = person(people.programme)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == "/join/consent/"


def test_a_page_already_passed_sends_the_person_on(people: Any) -> None:
    client, _prepatient = identified(people)
    for path in ["/join/consent/", "/join/personnummer/", "/join/result/"]:
        response = client.get(path)
        assert response["Location"] == "/join/questionnaire/", path


def test_pages_with_personal_data_are_not_cached(people: Any) -> None:
    client, _prepatient = consented(people)
    response = client.get("/join/personnummer/")
    assert "no-store" in response["Cache-Control"]


# --- 1. Consent -----------------------------------------------------------------------


def test_consent_page_shows_the_current_text_in_swedish_and_english(people: Any) -> None:
    consent_text_publish(programme=people.programme, kind=ConsentKind.DATA_SHARING,
                         title_sv="Dela uppgifter", title_en="Sharing data",
                         body_sv="Svensk text.", body_en="English text.")
    client, _prepatient = person(people.programme)
    swedish = client.get("/join/consent/")
    assert swedish.status_code == 200
    assert 'lang="sv"' in text(swedish)
    assert "Dela uppgifter" in text(swedish) and "Svensk text." in text(swedish)
    assert "Version 2" in text(swedish)
    assert 'aria-current="step"' in text(swedish)
    assert "<details" in text(swedish)
    english = client.get("/en/join/consent/")
    assert 'lang="en"' in text(english)
    assert "Sharing data" in text(english) and "English text." in text(english)
    assert "Version 2, published 2 March 2026" in text(english)
    # The research box is never ticked for the person.
    assert re.search(r'<input type="checkbox" name="research"[^>]*checked', text(english)) is None


def test_without_a_published_text_no_one_can_agree(programme: Any) -> None:
    client, prepatient = person(programme)
    body = text(client.get("/en/join/consent/"))
    assert "The consent text is not ready yet" in body
    assert 'name="agree"' not in body
    client.post("/en/join/consent/", {"agree": "on"})
    assert not ConsentEvent.objects.filter(prepatient=prepatient).exists()


def test_consent_needs_the_box_ticked_and_keeps_the_research_choice(people: Any) -> None:
    client, prepatient = person(people.programme)
    page = client.get("/en/join/consent/")
    data = text(page)
    hidden = dict(re.findall(r'name="(data_text|research_text)" value="(\d+)"', data))
    response = client.post("/en/join/consent/", {**hidden, "research": "on",
                                                 "once": token(page)})
    assert response.status_code == 200
    body = text(response)
    assert "Tick the box to show that you agree" in body
    assert 'class="error-summary"' in body
    assert 'aria-invalid="true"' in body
    assert re.search(r'name="research"[^>]*checked', body)
    assert not ConsentEvent.objects.filter(prepatient=prepatient).exists()


def test_giving_consent_with_research_donation(people: Any) -> None:
    client, prepatient = person(people.programme)
    page = client.get("/join/consent/")
    hidden = dict(re.findall(r'name="(data_text|research_text)" value="(\d+)"', text(page)))
    response = client.post("/join/consent/", {**hidden, "agree": "on", "research": "on",
                                              "once": token(page)})
    assert response.status_code == 302
    assert response["Location"] == "/join/personnummer/"
    prepatient.refresh_from_db()
    assert prepatient.consent_valid and prepatient.research_consent
    kinds = list(ConsentEvent.objects.filter(prepatient=prepatient)
                 .order_by("pk").values_list("kind", flat=True))
    assert kinds == [ConsentKind.DATA_SHARING, ConsentKind.RESEARCH]


def test_consent_without_research_and_submitted_twice_is_given_once(people: Any) -> None:
    client, prepatient = person(people.programme)
    page = client.get("/join/consent/")
    hidden = dict(re.findall(r'name="(data_text|research_text)" value="(\d+)"', text(page)))
    data = {**hidden, "agree": "on", "once": token(page)}
    first = client.post("/join/consent/", data)
    second = client.post("/join/consent/", data)
    assert first["Location"] == second["Location"] == "/join/personnummer/"
    assert ConsentEvent.objects.filter(prepatient=prepatient).count() == 1
    prepatient.refresh_from_db()
    assert prepatient.consent_valid and not prepatient.research_consent


def test_a_text_updated_while_reading_is_shown_again(people: Any) -> None:
    client, prepatient = person(people.programme)
    page = client.get("/en/join/consent/")
    hidden = dict(re.findall(r'name="(data_text|research_text)" value="(\d+)"', text(page)))
    consent_text_publish(programme=people.programme, kind=ConsentKind.DATA_SHARING,
                         title_sv="Ny", title_en="New version", body_sv="Ny.", body_en="New.")
    response = client.post("/en/join/consent/", {**hidden, "agree": "on",
                                                  "once": token(page)})
    assert response.status_code == 200
    assert "The text was updated while you were reading it" in text(response)
    assert "New version" in text(response)
    assert not ConsentEvent.objects.filter(prepatient=prepatient).exists()


def test_a_tampered_text_id_is_never_agreed_to(people: Any) -> None:
    client, prepatient = person(people.programme)
    page = client.get("/en/join/consent/")
    response = client.post("/en/join/consent/", {"data_text": "999999", "agree": "on",
                                                  "once": token(page)})
    assert response.status_code == 200
    assert not ConsentEvent.objects.filter(prepatient=prepatient).exists()


# --- 2. Personnummer --------------------------------------------------------------------


def test_the_personnummer_field_is_private_and_numeric(people: Any) -> None:
    client, _prepatient = consented(people)
    response = client.get("/join/personnummer/")
    assert response.status_code == 200
    field = re.search(r'<input[^>]*name="personnummer"[^>]*>', text(response))
    assert field
    for attribute in ("data-private", 'autocomplete="off"', 'inputmode="numeric"'):
        assert attribute in field[0]
    english = client.get("/en/join/personnummer/")
    assert "to check that you are registered as living in Sweden" in text(english)


def test_a_wrong_check_digit_is_named_on_the_field_and_the_typed_value_is_kept(
        people: Any) -> None:
    client, prepatient = consented(people)
    wrong = people.inside[:-1] + str((int(people.inside[-1]) + 1) % 10)
    page = client.get("/en/join/personnummer/")
    response = client.post("/en/join/personnummer/", {"personnummer": wrong,
                                                      "once": token(page)})
    assert response.status_code == 200
    body = text(response)
    assert "check digit" in body
    assert 'id="id_personnummer_error"' in body and 'aria-invalid="true"' in body
    assert f'value="{wrong}"' in body
    prepatient.refresh_from_db()
    assert prepatient.birth_date is None


@pytest.mark.parametrize(("which", "message"), [
    ("unknown", "We could not find an address registered in Sweden"),
    ("taken", "This personnummer is already registered in the programme"),
])
def test_refusals_from_the_register_are_named_on_the_field(people: Any, which: str,
                                                           message: str) -> None:
    if which == "taken":
        identified(people, people.other)
        number = people.other
    else:
        number = people.unknown
    client, _prepatient = consented(people)
    page = client.get("/en/join/personnummer/")
    response = client.post("/en/join/personnummer/", {"personnummer": number,
                                                      "once": token(page)})
    assert response.status_code == 200
    assert message in text(response)
    assert 'id="id_personnummer_error"' in text(response)


def test_a_ten_digit_number_is_checked_and_the_result_shown_without_the_number(
        people: Any) -> None:
    client, prepatient = consented(people)
    short = f"{people.inside[2:8]}-{people.inside[8:]}"
    page = client.get("/en/join/personnummer/")
    response = client.post("/en/join/personnummer/", {"personnummer": short,
                                                      "once": token(page)})
    assert response.status_code == 302
    assert response["Location"] == "/en/join/personnummer/done/"
    prepatient.refresh_from_db()
    assert prepatient.postcode == "16355" and prepatient.in_vulnerable_area
    done = client.get("/en/join/personnummer/done/")
    body = text(done)
    assert "163 55" in body
    assert "People in your area are given priority" in body
    assert "197005**-****" in body
    assert people.inside not in body and people.inside[8:] not in body
    assert 'href="/en/continue/">Start the questionnaire' in body  # on to the next step


def test_outside_a_priority_area_the_result_says_when_it_opens_to_everyone(
        people: Any) -> None:
    client, _prepatient = identified(people, people.outside)
    body = text(client.get("/en/join/personnummer/done/"))
    assert "111 22" in body
    assert "People in your area are given priority" not in body
    assert "From 1 July 2026 it is open to everyone" in body


def test_the_identity_form_submitted_twice_sets_the_identity_once(people: Any) -> None:
    client, prepatient = consented(people)
    page = client.get("/join/personnummer/")
    data = {"personnummer": people.inside, "once": token(page)}
    first = client.post("/join/personnummer/", data)
    second = client.post("/join/personnummer/", data)
    assert first["Location"] == second["Location"] == "/join/personnummer/done/"
    prepatient.refresh_from_db()
    assert prepatient.birth_date == date(1970, 5, 10)


def test_a_personnummer_from_e_identification_can_be_used(people: Any) -> None:
    client, prepatient = consented(people)
    session = client.session
    session[VERIFIED_PERSONNUMMER_SESSION_KEY] = {"user": prepatient.user_id,
                                                  "value": encrypt(people.outside)}
    session.save()
    page = client.get("/en/join/personnummer/")
    assert "198001**-****" in text(page)
    assert people.outside not in text(page)
    response = client.post("/en/join/personnummer/", {"use_verified": "1",
                                                      "once": token(page)})
    assert response["Location"] == "/en/join/personnummer/done/"
    prepatient.refresh_from_db()
    assert prepatient.postcode == "11122"
    assert VERIFIED_PERSONNUMMER_SESSION_KEY not in client.session


def test_a_personnummer_left_by_another_account_is_never_offered(people: Any) -> None:
    client, prepatient = consented(people)
    session = client.session
    other = UserFactory()
    session[VERIFIED_PERSONNUMMER_SESSION_KEY] = {"user": other.pk,
                                                  "value": encrypt(people.outside)}
    session.save()
    page = client.get("/en/join/personnummer/")
    assert "198001**-****" not in text(page)
    response = client.post("/en/join/personnummer/", {"use_verified": "1",
                                                      "once": token(page)})
    assert response["Location"] == "/en/join/personnummer/"
    prepatient.refresh_from_db()
    assert prepatient.birth_date is None
    assert VERIFIED_PERSONNUMMER_SESSION_KEY not in client.session


# --- 3. The questionnaire -----------------------------------------------------------------


def test_the_questionnaire_starts_at_part_one_showing_age_and_sex(people: Any) -> None:
    client, _prepatient = identified(people)
    start = client.get("/en/join/questionnaire/")
    assert start["Location"] == "/en/join/questionnaire/1/"
    body = text(client.get(start["Location"]))
    assert "age (55)" in body and "sex (Female)" in body
    assert 'inputmode="decimal"' in body
    assert "navel" in body  # how to measure the waist
    assert 'data-keep-draft="questionnaire-1"' in body
    swedish = client.get("/join/questionnaire/1/")
    assert swedish.status_code == 200 and 'lang="sv"' in text(swedish)


def test_wrong_measures_name_the_field_and_keep_what_was_typed(people: Any) -> None:
    client, prepatient = identified(people)
    page = client.get("/en/join/questionnaire/1/")
    response = client.post("/en/join/questionnaire/1/", {
        "height_cm": "17", "weight_kg": "eighty", "waist_cm": "", "action": "continue",
        "once": token(page)})
    assert response.status_code == 200
    body = text(response)
    assert "Height must be between 100 and 250 cm." in body
    assert "Write your weight as a number of kilograms" in body
    assert "Write your waist measurement." in body
    assert 'value="17"' in body and 'value="eighty"' in body
    assert 'href="#id_height_cm"' in body  # the error summary links to the field
    assert not QuestionnaireDraft.objects.filter(prepatient=prepatient).exists()


def test_a_decimal_comma_is_accepted_and_shown_back_as_typed_in_swedish(people: Any) -> None:
    client, prepatient = identified(people)
    page = client.get("/join/questionnaire/1/")
    response = client.post("/join/questionnaire/1/", {
        "height_cm": "172,5", "weight_kg": "84 kg", "waist_cm": "101", "action": "continue",
        "once": token(page)})
    assert response["Location"] == "/join/questionnaire/2/"
    draft = QuestionnaireDraft.objects.get(prepatient=prepatient)
    assert draft.answers == {"height_cm": "172.5", "weight_kg": "84.0", "waist_cm": "101.0"}
    # Back to part 1: the answers are filled in, in each language's way.
    assert 'value="172,5"' in text(client.get("/join/questionnaire/1/"))
    assert 'value="172.5"' in text(client.get("/en/join/questionnaire/1/"))
    assert 'href="/en/join/questionnaire/1/"' in text(client.get("/en/join/questionnaire/2/"))


def test_save_and_continue_later_resumes_at_the_first_unanswered_part(people: Any) -> None:
    client, prepatient = identified(people)
    answer_all(client, {1: ANSWERS[1]})
    page = client.get("/en/join/questionnaire/2/")
    response = client.post("/en/join/questionnaire/2/", {
        "physically_active": "yes", "action": "save", "once": token(page)})
    assert response.status_code == 302
    assert response["Location"] == "/en/"
    assert "Your answers are saved" in text(client.get("/en/"))
    assert QuestionnaireDraft.objects.get(prepatient=prepatient).answers["physically_active"] \
        == "yes"
    # Coming back: part 2 is the first with an answer missing, with the saved one filled in.
    resume = client.get("/en/join/questionnaire/")
    assert resume["Location"] == "/en/join/questionnaire/2/"
    body = text(client.get(resume["Location"]))
    assert re.search(r'name="physically_active" value="yes"[^>]*checked', body)
    # Parts further on are not reachable yet.
    assert client.get("/en/join/questionnaire/4/")["Location"] == "/en/join/questionnaire/2/"
    assert client.get("/en/join/questionnaire/5/")["Location"] == "/en/join/questionnaire/2/"
    assert client.get("/en/join/questionnaire/9/")["Location"] == "/en/join/questionnaire/"


def test_save_for_later_still_refuses_a_wrong_value(people: Any) -> None:
    client, prepatient = identified(people)
    page = client.get("/en/join/questionnaire/1/")
    response = client.post("/en/join/questionnaire/1/", {
        "height_cm": "999", "action": "save", "once": token(page)})
    assert response.status_code == 200
    assert "Height must be between 100 and 250 cm." in text(response)
    assert not QuestionnaireDraft.objects.filter(prepatient=prepatient).exists()


def test_the_summary_sends_the_answers_once_and_shows_the_code_once(people: Any) -> None:
    LabFactory(name="Open Lab")
    LabFactory(name="Closed Lab", is_authorized=False)
    client, prepatient = identified(people)
    answer_all(client)
    summary = client.get("/en/join/questionnaire/5/")
    body = text(summary)
    assert "Check and send" in body
    assert "101" in body and "Yes" in body
    data = {"once": token(summary)}
    first = client.post("/en/join/questionnaire/5/", data)
    second = client.post("/en/join/questionnaire/5/", data)
    assert first["Location"] == second["Location"] == "/en/join/blood-test/"
    screening = Screening.objects.get(prepatient=prepatient)
    assert screening.score == 16  # age 3, BMI 1, waist 4, activity 2, food 1, glucose 5
    assert not QuestionnaireDraft.objects.filter(prepatient=prepatient).exists()
    referral = ReferralCode.objects.get(prepatient=prepatient)
    page = client.get("/en/join/blood-test/")
    body = text(page)
    code = re.search(r'<p class="code"[^>]*>([A-Z0-9-]+)</p>', body)
    assert code and code[1].replace("-", "").endswith(referral.hint)
    assert "16 out of 26" in body
    assert "Open Lab" in body and "Closed Lab" not in body
    assert "You do not need to fast" in body
    assert referral.expires_at.date().strftime("%-d %B %Y") in body
    # Shown once: the next visit has only the hint and a way to get a new code.
    again = text(client.get("/en/join/blood-test/"))
    assert code[1] not in again
    assert f"ending in <strong>{referral.hint}</strong>" in again
    assert "Get a new code" in again
    assert REFERRAL_SESSION_KEY not in client.session


def test_two_tabs_send_the_answers_once(people: Any) -> None:
    client, prepatient = identified(people)
    answer_all(client)
    first_tab = client.get("/en/join/questionnaire/5/")
    second_tab = client.get("/en/join/questionnaire/5/")
    client.post("/en/join/questionnaire/5/", {"once": token(first_tab)})
    response = client.post("/en/join/questionnaire/5/", {"once": token(second_tab)})
    assert response.status_code == 302
    assert Screening.objects.filter(prepatient=prepatient).count() == 1
    assert ReferralCode.objects.filter(prepatient=prepatient).count() == 1


def test_a_low_score_goes_to_the_result_with_advice(people: Any) -> None:
    client, prepatient = identified(people, people.outside)  # 46 years old, a man
    answer_all(client, {
        1: {"height_cm": "180", "weight_kg": "70", "waist_cm": "80"},
        2: {"physically_active": "yes", "eats_vegetables_daily": "yes"},
        3: {"antihypertensive_medication": "no", "high_glucose_history": "no"},
        4: {"family_history": "none"},
    })
    summary = client.get("/en/join/questionnaire/5/")
    response = client.post("/en/join/questionnaire/5/", {"once": token(summary)})
    assert response["Location"] == "/en/join/result/"
    assert not ReferralCode.objects.filter(prepatient=prepatient).exists()
    body = text(client.get("/en/join/result/"))
    assert "Your risk is not raised now" in body
    assert "2 out of 26" in body
    assert "Answer the questionnaire again" in body
    assert client.get("/en/join/blood-test/")["Location"] == "/en/join/result/"
    # Things change: the questionnaire can be answered again.
    assert client.get("/en/join/questionnaire/")["Location"] == "/en/join/questionnaire/1/"


def test_one_persons_draft_is_never_shown_to_another(people: Any) -> None:
    first, _one = identified(people)
    answer_all(first, {1: {"height_cm": "163", "weight_kg": "84", "waist_cm": "101"}})
    second, other = identified(people, people.outside)
    body = text(second.get("/en/join/questionnaire/1/"))
    assert 'value="163"' not in body
    assert not QuestionnaireDraft.objects.filter(prepatient=other).exists()


def test_the_questionnaire_is_closed_after_a_referral(people: Any) -> None:
    client, _prepatient, _code = screened(people)
    assert client.get("/join/questionnaire/")["Location"] == "/join/blood-test/"
    assert client.get("/join/questionnaire/1/")["Location"] == "/join/blood-test/"


# --- 4. The blood test ------------------------------------------------------------------


def test_a_new_code_stops_the_old_one_and_is_shown_once(people: Any) -> None:
    client, prepatient, _code = screened(people)
    page = client.get("/en/join/blood-test/")
    old = ReferralCode.objects.get(prepatient=prepatient)
    data = {"once": token(page)}
    first = client.post("/en/join/blood-test/", data)
    second = client.post("/en/join/blood-test/", data)
    assert first["Location"] == second["Location"] == "/en/join/blood-test/"
    assert ReferralCode.objects.filter(prepatient=prepatient).count() == 2
    old.refresh_from_db()
    assert old.expires_at <= clock.now()
    new = ReferralCode.objects.exclude(pk=old.pk).get(prepatient=prepatient)
    body = text(client.get("/en/join/blood-test/"))
    code = re.search(r'<p class="code"[^>]*>([A-Z0-9-]+)</p>', body)
    assert code and code[1].replace("-", "").endswith(new.hint)
    assert "The old code no longer works" in body


def test_an_expired_code_can_be_replaced(people: Any) -> None:
    client, _prepatient, _code = screened(people)
    with clock.travel_to(TODAY + timedelta(days=120)):
        body = text(client.get("/en/join/blood-test/"))
        assert "stopped working" in body and "Get a new code" in body


def test_another_persons_code_is_never_shown(people: Any) -> None:
    first, _one, _code = screened(people)
    assert "Your referral code" in text(first.get("/en/join/blood-test/"))
    second, _other = identified(people, people.outside)
    response = second.get("/en/join/blood-test/")
    assert response["Location"] == "/en/join/questionnaire/"


# --- 5. The result --------------------------------------------------------------------------


def test_waiting_for_the_lab(people: Any) -> None:
    client, _prepatient, _code = screened(people)
    body = text(client.get("/en/join/result/"))
    assert "We are waiting for your blood test" in body
    assert "usually within a few days" in body
    swedish = client.get("/join/result/")
    assert swedish.status_code == 200 and 'lang="sv"' in text(swedish)


def test_included_leads_to_choosing_a_provider(people: Any) -> None:
    client, _prepatient = with_lab_result(people, "44")
    body = text(client.get("/en/join/result/"))
    assert "You can join the programme" in body
    assert "44 mmol/mol" in body and "2 March 2026" in body
    assert 'href="/en/providers/"' in body and "Choose a provider" in body
    assert "health centre (vårdcentral)" not in body


def test_a_value_that_may_mean_diabetes_says_to_seek_care(people: Any) -> None:
    client, _prepatient = with_lab_result(people, "52")
    body = text(client.get("/en/join/result/"))
    assert "Contact your health centre (vårdcentral)" in body
    assert 'role="alert"' in body
    assert "may mean diabetes" in body
    assert "Choose a provider" not in body


@pytest.mark.parametrize(("change", "words"), [
    ("cap", "The programme is full"),
    ("closed", "The programme no longer takes in participants"),
    ("not_priority", "You can join later"),
    ("normal", "Your blood sugar is normal"),
])
def test_other_decisions_are_explained_kindly(people: Any, change: str, words: str) -> None:
    number = people.outside if change == "not_priority" else None
    client, _prepatient = with_lab_result(people, "40" if change == "normal" else "44",
                                          number=number)
    if change == "cap":
        people.programme.cap = 1
        people.programme.save()
        enrolled = with_lab_result(people, "44", number=people.other)[1]
        from apps.registry.services import prepatient_enroll
        prepatient_enroll(prepatient=enrolled, provider=ProviderFactory())
    if change == "closed":
        with clock.travel_to(date(2027, 2, 1)):
            body = text(client.get("/en/join/result/"))
    else:
        body = text(client.get("/en/join/result/"))
    assert words in body
    assert "Choose a provider" not in body


def test_a_self_reported_value_waits_for_a_caseworker(people: Any) -> None:
    client, prepatient, _code = screened(people)
    InclusionSample.objects.create(prepatient=prepatient, measure="hba1c", value=Decimal("44"),
                                   taken_on=TODAY, source=SampleSource.SELF)
    body = text(client.get("/en/join/result/"))
    assert "Our staff check it" in body


def test_an_enrolled_person_goes_to_my_page(people: Any) -> None:
    from apps.registry.services import prepatient_enroll

    client, prepatient = with_lab_result(people, "44")
    prepatient_enroll(prepatient=prepatient, provider=ProviderFactory())
    for path in ["/join/consent/", "/join/questionnaire/", "/join/result/"]:
        assert client.get(path)["Location"] == "/me/"


# --- The start page -----------------------------------------------------------------------


def test_the_start_page_explains_the_programme_and_how_to_start(people: Any) -> None:
    english = text(Client().get("/en/"))
    # The programmes open to join, each in its definition's words, with a way to choose it.
    for words in ("The programmes you can join", "Who it is for", "How it works", "What it costs",
                  "Get started", 'href="/en/accounts/signup/"', 'href="/en/accounts/login/"'):
        assert words in english
    programme = Programme.objects.get(code="prediabetes-2026")
    name = programme_terms(programme).name["en"]
    assert name in english and 'name="programme" value="prediabetes-2026"' in english
    swedish = Client().get("/")
    assert swedish.status_code == 200 and 'lang="sv"' in text(swedish)
    client, _prepatient = consented(people)
    assert 'href="/continue/"' in text(client.get("/"))


def test_the_person_is_emailed_when_the_lab_result_arrives_without_the_value(
        make_candidate, mailoutbox, django_capture_on_commit_callbacks) -> None:
    from apps.registry.services import inclusion_sample_record_lab, referral_issue

    prepatient = make_candidate(hba1c=None)
    user = UserFactory(email="person@example.invalid")
    prepatient.user = user
    prepatient.save(update_fields=["user"])
    _referral, code = referral_issue(prepatient=prepatient)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        inclusion_sample_record_lab(code=code, value=Decimal("44.0"), taken_on=clock.today(),
                                    lab_reference="LAB-1")
    assert [mail.to for mail in mailoutbox] == [["person@example.invalid"]]
    assert "44" not in mailoutbox[0].body
    assert "blodprov" in mailoutbox[0].subject.lower()
