"""The 2027 programmes in a real browser, in Swedish and in English: obesity (a
measurement decides) and loneliness (a questionnaire decides).

A person walks from the start page, where each programme open to join is shown in its
definition's own words, through choosing it, sign-up and the confirmation email,
consent to that programme's text, the personnummer (after which the programmes page
says which programmes' age limits leave the person out), what the programme's definition
asks (the obesity programme's measurement reported over the real lab API; the
loneliness programme's UCLA-3 questions), the result, the marketplace of that
programme's providers only, and My page with the programme's own outcome measure,
after a provider has reported a follow-up value over the real provider API.

Every page reached is checked (``check_page``: language, one h1, skip link, axe-core
at WCAG 2.1 AA, no sideways scrolling at 320 px) and photographed
(``artifacts/screenshots/<lang>/41-…`` and ``61-…``). The live server's "now" is the
2027 programmes' priority phase, through the ``PREVENTION_CLOCK`` setting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from django.utils import translation
from playwright.sync_api import Locator, Page

from apps.programs.models import Programme
from apps.programs.selectors import programme_terms
from apps.providers.models import Provider
from apps.providers.services import api_credential_issue
from apps.registry.models import Listing, Prepatient, PrepatientState
from tests.browser.helpers import (
    LANGUAGES,
    Screenshots,
    api_post,
    check_page,
    label,
    path_of,
    sign_up_and_confirm,
    site_path,
    translated,
)
from tests.providers.factories import LabFactory

pytestmark = pytest.mark.browser

DAY = date(2027, 2, 1)  # the 2027 programmes' priority phase (they opened on 1 January)
PASSWORD = "Lingon och knäckebröd 2027"
CODE = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}")


@dataclass(frozen=True)
class Walker:
    """A person of the demo population register (data/population_register.csv) who
    lives in a priority area, with what they answer."""

    email: str
    typed: str  # the personnummer as typed
    postcode: str  # as the confirmation page shows it


# Obesity: 18–70 years old and a BMI of 30–40 measured by a laboratory or provider.
OBESE = {
    "sv": Walker("obesity-sv@example.org", "19700123-9297", "163 71"),
    "en": Walker("obesity-en@example.org", "800228-9224", "163 64"),
}
# Loneliness: 65 or older and a UCLA-3 score of 6 or more.
LONELY = {
    "sv": Walker("loneliness-sv@example.org", "19560113-2334", "163 73"),
    "en": Walker("loneliness-en@example.org", "570601-2274", "213 68"),
}
OBESITY_PROVIDERS = {"Hälsocoachen Järva AB", "Digital Livsstil Sverige AB"}
LONELINESS_PROVIDERS = {"Hälsocoachen Järva AB", "Idrottsföreningen Rörelse"}


@pytest.fixture
def in_2027(settings: Any) -> None:
    """Asked for before ``base_url``: the demo data is loaded on this day too (its 2027
    programmes published and their consent texts with them)."""
    settings.PREVENTION_CLOCK = f"{DAY.isoformat()}T09:30"


# --- Small steps ----------------------------------------------------------------------------


def follow(page: Page, target: Locator) -> None:
    with page.expect_navigation():
        target.click()


def main_button(page: Page, lang: str, msgid: str) -> Locator:
    return page.locator("main").get_by_role("button", name=translated(lang, msgid), exact=True)


def assert_on(page: Page, lang: str, path: str) -> None:
    expected = site_path(lang, path)
    assert path_of(page) == expected, f"the browser is on {page.url}, expected {expected}"


def programme_name(code: str, lang: str) -> str:
    return str(programme_terms(Programme.objects.get(code=code)).name[lang])


def choose_on_the_start_page(page: Page, base_url: str, lang: str, code: str,
                             shots: Screenshots) -> None:
    """The start page shows every programme open to join; the person chooses one."""
    page.goto(base_url + site_path(lang, "/"))
    check_page(page, name="start", lang=lang)
    shots.take(page, "start")
    cards = page.locator("main ul.programme-cards > li")
    names = {cards.nth(index).locator("h3").inner_text().strip()
             for index in range(cards.count())}
    shown = {programme_name(other, lang) for other in
             ("obesity-2027", "loneliness-2027", "falls-2027", "activity-2027")}
    assert shown <= names, f"the start page shows {names}"
    card = cards.filter(has=page.get_by_role("heading", name=programme_name(code, lang),
                                             exact=True))
    follow(page, card.get_by_role("button", name=translated(lang, "Choose this programme")))
    assert_on(page, lang, "/accounts/signup/")


def join(page: Page, base_url: str, lang: str, code: str, walker: Walker,
         shots: Screenshots) -> Prepatient:
    """From the start page to the personnummer checked, in the chosen programme."""
    choose_on_the_start_page(page, base_url, lang, code, shots)
    sign_up_and_confirm(page, base_url, lang=lang, email=walker.email, password=PASSWORD)
    assert_on(page, lang, "/join/consent/")
    check_page(page, name="consent", lang=lang)
    shots.take(page, "consent")
    programme = Programme.objects.get(code=code)
    consent_text = page.locator("main").inner_text()
    assert programme_name(code, lang) in consent_text or programme.name in consent_text
    page.get_by_label(label(lang, "I have read the text and I agree")).check()
    follow(page, main_button(page, lang, "Continue"))

    assert_on(page, lang, "/join/personnummer/")
    check_page(page, name="personnummer", lang=lang)
    field = page.get_by_label(label(lang, "Your personnummer"))
    field.fill(walker.typed)
    with page.expect_navigation():
        field.press("Enter")
    assert_on(page, lang, "/join/personnummer/done/")
    check_page(page, name="personnummer checked", lang=lang)
    shots.take(page, "personnummer-done")
    facts = page.locator("main dl.facts").inner_text()
    assert walker.postcode in facts
    assert translated(lang, "Yes, you live in a priority area") in facts
    prepatient = Prepatient.objects.get(user__email=walker.email)
    assert prepatient.programme == programme and prepatient.in_vulnerable_area
    return prepatient


def choose_a_provider(page: Page, lang: str, offered: set[str], walker: Walker,
                      shots: Screenshots) -> Provider:
    """The result page leads to the marketplace of the programme's providers only."""
    follow(page, page.locator("main").get_by_role(
        "link", name=translated(lang, "Choose a provider"), exact=True))
    assert_on(page, lang, "/providers/")
    check_page(page, name="marketplace", lang=lang)
    shots.take(page, "marketplace")
    listed = page.locator("main ul.providers > li > h2")
    names = {listed.nth(index).inner_text().strip() for index in range(listed.count())}
    assert names == offered, f"the marketplace lists {names}, the programme's are {offered}"
    name = sorted(offered)[0]
    follow(page, page.locator("main ul.providers").get_by_role("link", name=name, exact=True))
    provider = Provider.objects.get(name=name)
    assert_on(page, lang, f"/providers/{provider.pk}/")
    check_page(page, name="provider", lang=lang)
    follow(page, page.locator("main").get_by_role(
        "link", name=translated(lang, "Choose this provider"), exact=True))
    assert_on(page, lang, f"/providers/{provider.pk}/choose/")
    check_page(page, name="choose a provider", lang=lang)
    with translation.override(lang):
        confirm = translation.gettext("Yes, choose %(name)s") % {"name": name}
    follow(page, page.locator("main").get_by_role("button", name=confirm, exact=True))
    assert_on(page, lang, "/me/")
    prepatient = Prepatient.objects.get(user__email=walker.email)
    assert prepatient.state == PrepatientState.ACTIVE and prepatient.enrolled_on == DAY
    assert prepatient.programme_version is not None
    assert list(Listing.objects.filter(prepatient=prepatient)
                .values_list("provider__name", flat=True)) == [name]
    return provider


def the_provider_reports(base_url: str, provider: Provider, prepatient: Prepatient,
                         items: list[dict[str, Any]]) -> None:
    _credential, key = api_credential_issue(provider=provider, label="walk")
    status, body = api_post(base_url, "measurements/", key, {"items": [
        {"prepatient": prepatient.pseudonym, "taken_on": DAY.isoformat(), **item}
        for item in items]})
    assert status in (200, 201, 207), body


def my_page_shows(page: Page, lang: str, measure: str, value: str, goal: str,
                  shots: Screenshots) -> None:
    """My page has the programme's outcome measure: its goal in words, a chart and its
    table."""
    page.goto(page.url.split("#")[0])
    check_page(page, name="my page", lang=lang)
    shots.take(page, "mypage")
    section = page.locator(f"main section[aria-labelledby='outcome-{measure}-title']")
    assert section.count() == 1, f"My page has no section for {measure}"
    assert page.locator(f"#outcome-{measure}-chart").count() == 1
    assert goal in section.inner_text()
    cells = section.locator("tbody td.number")
    assert [cells.nth(index).inner_text().strip() for index in range(cells.count())] == [value]
    assert "HbA1c" not in page.locator("main").inner_text()


# --- The walks ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_obesity_from_the_start_page_to_my_page(in_2027: None, page: Page, base_url: str,
                                                lang: str) -> None:
    walker = OBESE[lang]
    shots = Screenshots(lang=lang, number=40)
    lab = LabFactory(name="Laboratoriet Söder")
    _credential, lab_key = api_credential_issue(lab=lab, label="walk")
    join(page, base_url, lang, "obesity-2027", walker, shots)

    # No questionnaire: the measurement the definition names comes next.
    terms = programme_terms(Programme.objects.get(code="obesity-2027"))
    step = terms.messages["step.test"][lang]
    # Now that the age is known, the programmes page says which are not for this person.
    page.goto(base_url + site_path(lang, "/join/programmes/"))
    check_page(page, name="programmes, age known", lang=lang)
    lonely = page.locator("main ul.programme-cards > li").filter(
        has=page.get_by_role("heading", name=programme_name("loneliness-2027", lang),
                             exact=True))
    assert translated(lang, "By its age limits this programme is not for you.") in (
        lonely.inner_text())
    assert lonely.get_by_role("button").count() == 0
    page.goto(base_url + site_path(lang, "/continue/"))
    assert_on(page, lang, "/join/blood-test/")
    check_page(page, name="measurement", lang=lang)
    assert page.locator("h1").inner_text().strip() == step
    follow(page, main_button(page, lang, "Get a new code"))
    check_page(page, name="measurement code", lang=lang)
    shots.take(page, "measurement-code")
    code = page.locator("main .code").inner_text().strip()
    assert CODE.fullmatch(code), code
    assert "Laboratoriet Söder" in page.locator("main").inner_text()

    status, body = api_post(base_url, "lab/referral-results/", lab_key, {
        "referral_code": code, "type": "bmi", "value": "33.1", "unit": "kg/m2",
        "taken_on": DAY.isoformat(), "sample_id": f"BMI-{lang}"})
    assert status == 201, body

    page.goto(base_url + site_path(lang, "/continue/"))
    assert_on(page, lang, "/join/result/")
    check_page(page, name="result", lang=lang)
    shots.take(page, "result")
    assert (page.locator("h1").inner_text().strip()
            == translated(lang, "You can join the programme"))
    facts = page.locator("main").inner_text()
    assert ("33,1" if lang == "sv" else "33.1") in facts

    provider = choose_a_provider(page, lang, OBESITY_PROVIDERS, walker, shots)
    prepatient = Prepatient.objects.get(user__email=walker.email)
    the_provider_reports(base_url, provider, prepatient,
                         [{"type": "weight", "value": "96.4", "unit": "kg",
                           "source_reference": f"visit-{lang}-weight"}])
    goal = {"sv": "Programmets mål: en förändring på högst -5 % från ditt första värde.",
            "en": "The goal of the programme: a change of at most -5 % from your first "
                  "value."}[lang]
    my_page_shows(page, lang, "weight", "96,4" if lang == "sv" else "96.4", goal, shots)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_loneliness_from_the_start_page_to_my_page(in_2027: None, page: Page, base_url: str,
                                                   lang: str) -> None:
    walker = LONELY[lang]
    shots = Screenshots(lang=lang, number=60)
    join(page, base_url, lang, "loneliness-2027", walker, shots)

    follow(page, page.locator("main").get_by_role(
        "link", name=translated(lang, "Start the questionnaire"), exact=True))
    assert_on(page, lang, "/join/answers/")
    check_page(page, name="questionnaire", lang=lang)
    shots.take(page, "questionnaire")
    questions = {
        "sv": ["Hur ofta känner du att du saknar sällskap?",
               "Hur ofta känner du dig utanför?",
               "Hur ofta känner du dig isolerad från andra?"],
        "en": ["How often do you feel that you lack companionship?",
               "How often do you feel left out?",
               "How often do you feel isolated from others?"],
    }[lang]
    often = {"sv": "Ofta", "en": "Often"}[lang]
    # Two answered, one forgotten: the page says which, and keeps what was ticked.
    for question in questions[:2]:
        page.get_by_role("group", name=question).get_by_label(often, exact=True).check()
    follow(page, main_button(page, lang, "Send my answers"))
    assert_on(page, lang, "/join/answers/")
    check_page(page, name="questionnaire with an error", lang=lang)
    shots.take(page, "questionnaire-error")
    summary = page.locator("main .error-summary")
    assert summary.count() == 1 and questions[2] in summary.inner_text()
    for question in questions[:2]:
        assert page.get_by_role("group", name=question).get_by_label(
            often, exact=True).is_checked()
    prepatient = Prepatient.objects.get(user__email=walker.email)
    assert not prepatient.questionnaire_responses.exists()  # nothing half-saved
    page.get_by_role("group", name=questions[2]).get_by_label(often, exact=True).check()
    follow(page, main_button(page, lang, "Send my answers"))

    # No test to take: the answers decide.
    assert_on(page, lang, "/join/result/")
    check_page(page, name="result", lang=lang)
    shots.take(page, "result")
    assert prepatient.questionnaire_responses.get().score == 9

    provider = choose_a_provider(page, lang, LONELINESS_PROVIDERS, walker, shots)
    the_provider_reports(base_url, provider, prepatient,
                         [{"type": "ucla3", "value": "7", "unit": "score",
                           "source_reference": f"visit-{lang}-ucla3"}])
    goal = {"sv": "Programmets mål: högst 5.", "en": "The goal of the programme: at most 5."}
    my_page_shows(page, lang, "ucla3", "7", goal[lang], shots)
