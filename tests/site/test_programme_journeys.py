"""The site follows the chosen programme's definition: the programmes open to join in
their own words, then consent, personnummer and whatever the definition asks for (its
questionnaires from their definitions, a test it reads), the result in its words, and
the choice of provider."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from apps.consent.models import ConsentKind
from apps.consent.selectors import consent_text_current
from apps.core import clock
from apps.programs.models import Programme
from apps.programs.services import shipped_definitions_publish
from apps.registry.models import Prepatient, PrepatientState
from apps.registry.services import inclusion_sample_receive_lab
from tests.factories import ProviderFactory, UserFactory
from tests.registry.builders import personnummer

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[2] / "data"
DAY = date(2027, 2, 1)  # the 2027 programmes' priority phase


@pytest.fixture(autouse=True)
def in_2027() -> Any:
    with clock.travel_to(DAY):
        yield


@pytest.fixture
def register(tmp_path: Path, settings: Any) -> Any:
    shipped_definitions_publish(directory=DATA, author=UserFactory(username="drafts"),
                                publisher=UserFactory(username="publishes"))
    path = tmp_path / "people.csv"
    path.write_text("personnummer,postcode\n")
    settings.POPULATION_REGISTER_CSV = str(path)
    serial = iter(range(20, 90))

    def add(born: date) -> str:
        number = personnummer(born, next(serial), male=False)
        with path.open("a") as handle:
            handle.write(f"{number},16355\n")
        return number

    return add


def root(lang: str) -> str:
    """Swedish pages have no language prefix."""
    return "/" if lang == "sv" else f"/{lang}/"


def page(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def once(html: str) -> str:
    match = re.search(r'name="once" value="([0-9a-f]+)"', html)
    assert match
    return match[1]


def choose_and_join(client: Client, code: str, number: str, lang: str = "en") -> Prepatient:
    """Chooses the programme, signs in, consents and gives the personnummer."""
    programmes = page(client.get(f"{root(lang)}join/programmes/"))
    assert f'value="{code}"' in programmes
    assert client.post(f"{root(lang)}join/programmes/", {"programme": code}).status_code == 302
    user = UserFactory()
    client.force_login(user)
    programme = Programme.objects.get(code=code)
    programme.vulnerable_postcodes.get_or_create(postcode="16355")
    assert client.get(f"{root(lang)}continue/").url.endswith("/join/consent/")
    consent = page(client.get(f"{root(lang)}join/consent/"))
    text = consent_text_current(programme=programme, kind=ConsentKind.DATA_SHARING)
    assert (text is not None and text.body_en in consent) or text.body_sv in consent
    answer = client.post(f"{root(lang)}join/consent/", {
        "once": once(consent), "data_text": text.pk, "agree": "on"})
    assert answer.status_code == 302, page(answer)[-3000:]
    identity = page(client.get(f"{root(lang)}join/personnummer/"))
    answer = client.post(f"{root(lang)}join/personnummer/", {"once": once(identity),
                                                         "personnummer": number})
    assert answer.status_code == 302, page(answer)[-3000:]
    done = page(client.get(f"{root(lang)}join/personnummer/done/"))
    assert f'href="{root(lang)}continue/"' in done  # on to what the definition asks next
    # The screening form of another programme is not this one's way in.
    assert client.get(f"{root(lang)}join/questionnaire/").status_code == 302
    return Prepatient.objects.get(user=user, programme=programme)


def choose_provider(client: Client, prepatient: Prepatient, lang: str = "en") -> None:
    provider = ProviderFactory(name="Support Near You")
    ProviderFactory(name="Only Elsewhere", programmes=[Programme.objects.get(
        code="prediabetes-2026")])
    listing = page(client.get(f"{root(lang)}providers/"))
    assert "Support Near You" in listing
    assert "Only Elsewhere" not in listing  # the chosen programme's providers only
    assert "Support Near You" in page(client.get(f"{root(lang)}providers/{provider.pk}/"))
    confirm = page(client.get(f"{root(lang)}providers/{provider.pk}/choose/"))
    answer = client.post(f"{root(lang)}providers/{provider.pk}/choose/",
                         {"once": once(confirm)})
    assert answer.status_code == 302, page(answer)[-3000:]
    prepatient.refresh_from_db()
    assert (prepatient.state, prepatient.current_provider) == (PrepatientState.ACTIVE, provider)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_loneliness_asks_its_questionnaire_and_decides_on_the_answers(register: Any,
                                                                      lang: str) -> None:
    client = Client()
    programmes = page(client.get(f"{root(lang)}join/programmes/"))
    words = {"sv": "Ensamhet bland äldre", "en": "Loneliness"}[lang]
    assert words in programmes
    prepatient = choose_and_join(client, "loneliness-2027", register(date(1950, 3, 3)), lang)
    assert client.get(f"{root(lang)}continue/").url.endswith("/join/answers/")
    form = page(client.get(f"{root(lang)}join/answers/"))
    question = {"sv": "Hur ofta känner du att du saknar sällskap?",
                "en": "How often do you feel that you lack companionship?"}[lang]
    assert question in form and 'type="radio"' in form
    missing = client.post(f"{root(lang)}join/answers/", {"once": once(form),
                                                     "ucla3.lack_companionship": "often"})
    assert missing.status_code == 200 and "ucla3.left_out" in page(missing)  # named
    assert not prepatient.questionnaire_responses.exists()  # nothing half-saved
    answer = client.post(f"{root(lang)}join/answers/", {
        "once": once(page(missing)), "ucla3.lack_companionship": "often",
        "ucla3.left_out": "often", "ucla3.isolated": "some_of_the_time"})
    assert answer.status_code == 302
    assert answer.url.endswith("/join/result/")  # no test to take: the answers decide
    result = page(client.get(f"{root(lang)}join/result/"))
    assert {"sv": "Nästa steg", "en": "Next: choose your provider"}[lang] in result
    choose_provider(client, prepatient, lang)


def test_a_low_loneliness_score_is_told_what_it_means(register: Any) -> None:
    client = Client()
    prepatient = choose_and_join(client, "loneliness-2027", register(date(1950, 3, 3)))
    form = page(client.get("/en/join/answers/"))
    answer = client.post("/en/join/answers/", {
        "once": once(form), **dict.fromkeys(
            ("ucla3.lack_companionship", "ucla3.left_out", "ucla3.isolated"), "hardly_ever")})
    assert answer.url.endswith("/join/result/")
    result = page(client.get("/en/join/result/"))
    assert "This programme is not for you now" in result
    assert "your score is 3" in result
    assert prepatient.questionnaire_responses.get().band == "not_lonely"


def test_obesity_goes_from_personnummer_to_a_measurement_and_its_result(register: Any) -> None:
    client = Client()
    prepatient = choose_and_join(client, "obesity-2027", register(date(1975, 5, 5)))
    assert client.get("/en/continue/").url.endswith("/join/blood-test/")  # the test step
    test_page = page(client.get("/en/join/blood-test/"))
    assert "Measurement" in test_page  # the definition's name of the step
    issued = client.post("/en/join/blood-test/", {"once": once(test_page)})
    assert issued.status_code == 302
    shown = page(client.get("/en/join/blood-test/"))
    code = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", shown)
    assert code, "the new code is shown once"
    inclusion_sample_receive_lab(code=code[0], value="33.1", unit="kg/m2", taken_on=DAY,
                                 lab_reference="BMI-1", measure="bmi")
    assert client.get("/en/continue/").url.endswith("/join/result/")
    result = page(client.get("/en/join/result/"))
    assert "You can join the programme" in result and "33.1 kg/m2" in result
    choose_provider(client, prepatient)


def test_activity_takes_a_step_count_the_person_types_in_checked_by_staff(
        register: Any) -> None:
    from apps.registry.models import InclusionSample, SampleSource
    from apps.registry.services import inclusion_sample_verify

    client = Client()
    prepatient = choose_and_join(client, "activity-2027", register(date(1970, 4, 4)))
    assert client.get("/en/continue/").url.endswith("/join/blood-test/")
    form = page(client.get("/en/join/blood-test/"))
    assert "Step count" in form  # the definition's name of the step
    assert "Your referral code" not in form  # no laboratory: no code
    assert 'name="action" value="self_value"' in form
    # A value that is not a number, and one out of the plausible range: named, nothing
    # saved, what was typed kept.
    refused = client.post("/en/join/blood-test/", {
        "once": once(form), "action": "self_value", "measure": "steps",
        "value": "many", "taken_on": DAY.isoformat()})
    html = page(refused)
    assert "Write the value as a number" in html and 'value="many"' in html
    refused = client.post("/en/join/blood-test/", {
        "once": once(html), "action": "self_value", "measure": "steps",
        "value": "900000", "taken_on": DAY.isoformat()})
    assert refused.status_code == 200 and 'aria-invalid="true"' in page(refused)
    assert not InclusionSample.objects.filter(prepatient=prepatient).exists()
    sent = client.post("/en/join/blood-test/", {
        "once": once(page(refused)), "action": "self_value", "measure": "steps",
        "value": "3 200", "taken_on": DAY.isoformat()})
    assert sent.status_code == 302
    sample = InclusionSample.objects.get(prepatient=prepatient)
    assert (sample.measure, sample.value, sample.source) == ("steps", 3200, SampleSource.SELF)
    waiting = page(client.get("/en/join/blood-test/"))
    assert "Our staff check it before it can be used" in waiting
    assert 'name="action" value="self_value"' not in waiting  # one value at a time
    # It decides nothing until a caseworker has checked it.
    assert client.get("/en/continue/").url.endswith("/join/blood-test/")
    inclusion_sample_verify(sample=sample, caseworker=UserFactory(is_staff=True),
                            note="Checked against the step counter's log.")
    assert client.get("/en/continue/").url.endswith("/join/result/")
    assert "You can join the programme" in page(client.get("/en/join/result/"))
    choose_provider(client, prepatient)


def test_once_the_age_is_known_programmes_outside_its_limits_say_so(register: Any) -> None:
    client = Client()
    choose_and_join(client, "obesity-2027", register(date(1975, 5, 5)))  # 51 years old
    listing = page(client.get("/en/join/programmes/"))
    cards = dict(re.findall(r'<h2 id="programme-([a-z0-9-]+)">.*?</h2>(.*?)</li>', listing,
                            re.S))
    assert "not for you" in cards["loneliness-2027"]  # 65 or older
    assert 'value="loneliness-2027"' not in cards["loneliness-2027"]
    assert "not for you" not in cards["obesity-2027"]
    assert 'value="obesity-2027"' in cards["obesity-2027"]
    # A visitor, whose age is not known, may choose any of them.
    assert "not for you" not in page(Client().get("/en/join/programmes/"))
