"""The whole way through the site in a real browser, in Swedish and in English.

One person per language walks it as a person would: the start page, sign-up
and the confirmation email, consent, a personnummer typed wrong and then
right, the questionnaire (left half-way with "Save and continue later" and
resumed), the referral code, the laboratory's result sent over the real lab
API, the result page, the marketplace with a filter, choosing a provider, a
switch refused the same day and done the next, and withdrawing consent.

Every page reached is checked (``check_page``: language, one h1, skip link,
axe-core at WCAG 2.1 AA, no sideways scrolling at 320 px), error pages
included, and the main pages are photographed at 320, 360 and 1280 px
(``artifacts/screenshots/<lang>/21-…``).

The live server runs in a thread of this process, so the clock is moved for
it with the ``PREVENTION_CLOCK`` setting (``clock.travel_to`` is thread-local):
the walk happens on a fixed day in the open recruitment phase, after the demo
data's history, and the switch on the day after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.utils import translation
from django.utils.formats import date_format
from playwright.sync_api import Locator, Page

from apps.consent.models import ConsentText
from apps.core import clock
from apps.core.models import User
from apps.programs.models import Programme
from apps.programs.selectors import programme_terms, referral_score_threshold
from apps.providers.models import Provider
from apps.providers.services import api_credential_issue
from apps.registry.models import (
    InclusionSample,
    LifecycleEvent,
    LifecycleEventType,
    Listing,
    ListingReason,
    Prepatient,
    PrepatientState,
    Screening,
)
from prevention_engine.dates import switch_window_end
from tests.browser.helpers import (
    LANGUAGES,
    PHONE,
    Screenshots,
    api_post,
    check_page,
    fill_sign_in,
    is_signed_in,
    label,
    path_of,
    sign_up_and_confirm,
    site_path,
    translated,
)
from tests.providers.factories import LabFactory

pytestmark = pytest.mark.browser

# The walk's day (a Tuesday in the open recruitment phase, after the demo history)
# and the day after, when the switch is allowed again.
DAY_ONE = date(2026, 11, 24)
DAY_TWO = DAY_ONE + timedelta(days=1)
HBA1C = Decimal("44")  # mmol/mol: inside the programme's range (42–47)
PASSWORD = "Blåbär och havregryn 2026"
FIRST_PROVIDER = "Hälsocoachen Järva AB"  # offers Somali (demo data)
SECOND_PROVIDER = "Digital Livsstil Sverige AB"  # remote only (demo data)


@dataclass(frozen=True)
class Walker:
    """One person of the population register (data/population_register.csv) and
    how they answer. Both live in a priority area and are 20–60 years old, so
    they may enroll in any recruitment phase."""

    email: str
    personnummer: str  # 12 digits, as stored
    typed: str  # as the person types it
    mistyped: str  # the same with a wrong check digit
    postcode: str  # as the result page shows it
    height: str
    weight: str
    waist: str
    physically_active: str  # "Yes" / "No" (msgids)
    eats_vegetables_daily: str
    antihypertensive_medication: str
    high_glucose_history: str
    family_history: str  # the msgid of the answer
    research: bool  # also donates data to research on the consent page
    save_at_part: int  # the part left with "Save and continue later"
    come_back_via: str  # "start" (the start page) or "mypage" (My page's Continue)
    result_via: str  # "reload" (still on the site) or "sign_in" (came back later)


FIRST_DEGREE = "Yes: a parent, brother, sister or my own child"
SECOND_DEGREE = ("Yes: a grandparent, aunt, uncle or cousin (but no parent, brother, "
                 "sister or child)")

WALKERS = {
    # A man of 30 in Tensta: BMI 30.9 (3 points), waist 104 (4), not active (2),
    # no vegetables (1), high blood sugar before (5), family (3): 18 points.
    "sv": Walker(
        email="walk-sv@example.org", personnummer="199606132398", typed="19960613-2398",
        mistyped="19960613-2397", postcode="163 66",
        height="175", weight="94,6 kg", waist="104",
        physically_active="No", eats_vegetables_daily="No",
        antihypertensive_medication="No", high_glucose_history="Yes",
        family_history=SECOND_DEGREE, research=True, save_at_part=2,
        come_back_via="start", result_via="reload",
    ),
    # A woman of 24 in Rinkeby: BMI 30.3 (3), waist 92 (4), vegetables no (1),
    # blood-pressure medicine (2), high blood sugar before (5), parent (5): 20 points.
    "en": Walker(
        email="walk-en@example.org", personnummer="200208202382", typed="020820-2382",
        mistyped="020820-2383", postcode="163 73",
        height="165 cm", weight="82.4", waist="92",
        physically_active="Yes", eats_vegetables_daily="No",
        antihypertensive_medication="Yes", high_glucose_history="Yes",
        family_history=FIRST_DEGREE, research=False, save_at_part=3,
        come_back_via="mypage", result_via="sign_in",
    ),
}

# The questions of each part (msgids of apps/site/forms_journey.py), in order.
HABITS = [("physically_active",
           "Are you physically active for at least 30 minutes every day?"),
          ("eats_vegetables_daily", "Do you eat vegetables, fruit or berries every day?")]
HISTORY = [("antihypertensive_medication",
            "Have you ever taken medicine for high blood pressure regularly?"),
           ("high_glucose_history", "Have you ever been told that your blood sugar was high?")]
FAMILY_QUESTION = "Has anyone in your family had diabetes (type 1 or type 2)?"


# --- The clock of the live server ----------------------------------------------------------


class WalkClock:
    """Moves "now" for the live server (and this thread) through the setting."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.go_to(DAY_ONE)

    def go_to(self, day: date) -> None:
        # clock.now() reads the setting on every call (its parse is cached per value).
        self.settings.PREVENTION_CLOCK = f"{day.isoformat()}T09:30"


@pytest.fixture
def walk_clock(settings: Any) -> WalkClock:
    """Asked for before ``base_url``, so the demo data is loaded on the walk's day too."""
    return WalkClock(settings)


# --- Small steps ----------------------------------------------------------------------------


def words(lang: str, msgid: str, **values: Any) -> str:
    """A message as the site shows it in ``lang``, with its placeholders filled in."""
    text = translated(lang, msgid)
    return text % values if values else text


def long_date(lang: str, day: date) -> str:
    with translation.override(lang):
        return date_format(day, "j F Y")


def follow(page: Page, target: Locator) -> None:
    """Activates a link or button and waits for the page it leads to."""
    with page.expect_navigation():
        target.click()


def button(page: Page, lang: str, msgid: str, **values: Any) -> Locator:
    return page.locator("main").get_by_role("button", name=words(lang, msgid, **values),
                                            exact=True)


def link(page: Page, lang: str, msgid: str, **values: Any) -> Locator:
    return page.locator("main").get_by_role("link", name=words(lang, msgid, **values),
                                            exact=True)


def heading(page: Page) -> str:
    return page.locator("h1").inner_text().strip()


def answer(page: Page, lang: str, question: str, choice: str) -> None:
    """Ticks an answer of a radio question (a fieldset named by its question)."""
    group = page.get_by_role("group", name=translated(lang, question))
    group.get_by_label(translated(lang, choice), exact=True).check()


def chosen(page: Page, lang: str, question: str, choice: str) -> bool:
    group = page.get_by_role("group", name=translated(lang, question))
    return group.get_by_label(translated(lang, choice), exact=True).is_checked()


def assert_on(page: Page, lang: str, path: str) -> None:
    expected = site_path(lang, path)
    assert path_of(page) == expected, f"the browser is on {page.url}, expected {expected}"


def lab_result(base_url: str, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POSTs a referral result to the real lab API of the live server."""
    status, answer = api_post(base_url, "lab/referral-results/", key, body)
    return status, answer


# --- The walk -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_whole_way_from_sign_up_to_a_switch_and_a_withdrawal(
    walk_clock: WalkClock, page: Page, base_url: str, lang: str,
) -> None:
    walker = WALKERS[lang]
    shots = Screenshots(lang=lang, number=20)
    # The demo data was loaded on the walk's day (its consent texts published then).
    assert clock.today() == DAY_ONE
    assert ConsentText.objects.filter(published_at__date=DAY_ONE).exists()
    lab = LabFactory(name="Laboratoriet Norr")
    _credential, lab_key = api_credential_issue(lab=lab, label="walk")

    sign_up(page, base_url, lang, walker, shots)
    give_consent(page, lang, walker, shots)
    give_personnummer(page, lang, walker, shots)
    answer_the_questionnaire(page, base_url, lang, walker, shots)
    code = read_the_referral_code(page, lang, shots)
    the_lab_reports(base_url, lab_key, code, walker)
    see_the_result(page, base_url, lang, walker, shots)
    choose_a_provider(page, lang, walker, shots)
    switch_provider(page, base_url, lang, walker, walk_clock, shots)
    the_read_aloud_button(page, lang)
    withdraw_consent(page, lang, walker, shots)


def sign_up(page: Page, base_url: str, lang: str, walker: Walker, shots: Screenshots) -> None:
    page.goto(base_url + site_path(lang, "/"))
    check_page(page, name="start", lang=lang)
    shots.take(page, "start")
    follow(page, link(page, lang, "Get started").first)
    assert_on(page, lang, "/accounts/signup/")

    sign_up_and_confirm(page, base_url, lang=lang, email=walker.email, password=PASSWORD,
                        shots=shots)
    assert_on(page, lang, "/join/consent/")
    assert is_signed_in(page, lang)


def give_consent(page: Page, lang: str, walker: Walker, shots: Screenshots) -> None:
    check_page(page, name="consent", lang=lang)
    shots.take(page, "consent")
    page.get_by_label(label(lang, "I have read the text and I agree")).check()
    research = page.get_by_label(label(lang, "Yes, I want to donate my data to research"))
    assert not research.is_checked(), "the research donation must never be pre-ticked"
    if walker.research:
        research.check()
    follow(page, button(page, lang, "Continue"))

    assert_on(page, lang, "/join/personnummer/")
    prepatient = Prepatient.objects.get(user__email=walker.email)
    assert prepatient.consent_valid
    assert prepatient.research_consent is walker.research


def give_personnummer(page: Page, lang: str, walker: Walker, shots: Screenshots) -> None:
    check_page(page, name="personnummer", lang=lang)
    shots.take(page, "personnummer")
    field = page.get_by_label(label(lang, "Your personnummer"))
    field.fill(walker.mistyped)
    with page.expect_navigation():
        field.press("Enter")

    # Refused: the message next to the field and in the summary, the number kept.
    check_page(page, name="personnummer with an error", lang=lang)
    shots.take(page, "personnummer-error")
    message = translated(lang, "The last digit of the personnummer (the check digit) does "
                               "not match. Please check the number for typing errors.")
    field = page.get_by_label(label(lang, "Your personnummer"))
    assert field.input_value() == walker.mistyped
    assert field.get_attribute("aria-invalid") == "true"
    described_by = (field.get_attribute("aria-describedby") or "").split()
    errors = [page.locator(f"[id='{ident}']").inner_text() for ident in described_by]
    assert any(message in text for text in errors), (
        f"the field is not described by the error: {described_by} -> {errors}")
    summary = page.locator("main .error-summary")
    assert message in summary.inner_text()
    field_id = field.get_attribute("id")
    assert summary.get_by_role("link").first.get_attribute("href") == f"#{field_id}"
    assert Prepatient.objects.get(user__email=walker.email).birth_date is None

    field.fill(walker.typed)
    with page.expect_navigation():
        field.press("Enter")

    assert_on(page, lang, "/join/personnummer/done/")
    check_page(page, name="personnummer checked", lang=lang)
    shots.take(page, "personnummer-done")
    facts = page.locator("main dl.facts").inner_text()
    assert walker.postcode in facts
    assert translated(lang, "Yes, you live in a priority area") in facts
    # Shown masked: the year and month of birth only.
    assert f"{walker.personnummer[:6]}**-****" in facts
    assert walker.personnummer[6:] not in facts
    prepatient = Prepatient.objects.get(user__email=walker.email)
    assert prepatient.personnummer == walker.personnummer and prepatient.in_vulnerable_area
    follow(page, link(page, lang, "Start the questionnaire"))


def answer_the_questionnaire(page: Page, base_url: str, lang: str, walker: Walker,
                             shots: Screenshots) -> None:
    # Part 1: the body.
    assert_on(page, lang, "/join/questionnaire/1/")
    check_page(page, name="questionnaire part 1", lang=lang)
    shots.take(page, "questionnaire-body")
    page.get_by_label(label(lang, "Height (cm)")).fill(walker.height)
    page.get_by_label(label(lang, "Weight (kg)")).fill(walker.weight)
    page.get_by_label(label(lang, "Waist (cm)")).fill(walker.waist)
    follow(page, button(page, lang, "Continue"))

    parts: list[list[tuple[str, str]]] = [HABITS, HISTORY]
    for number, questions in enumerate(parts, start=2):
        assert_on(page, lang, f"/join/questionnaire/{number}/")
        check_page(page, name=f"questionnaire part {number}", lang=lang)
        if number == 2:
            shots.take(page, "questionnaire-habits")
        first, second = questions
        answer(page, lang, first[1], getattr(walker, first[0]))
        if number == walker.save_at_part:
            # Leave half-way: the first answer is stored, the second left empty.
            follow(page, button(page, lang, "Save and continue later"))
            come_back(page, base_url, lang, walker, shots)
            assert_on(page, lang, f"/join/questionnaire/{number}/")
            check_page(page, name=f"questionnaire part {number}, resumed", lang=lang)
            assert chosen(page, lang, first[1], getattr(walker, first[0])), (
                "the saved answer is not shown when the person comes back")
        answer(page, lang, second[1], getattr(walker, second[0]))
        follow(page, button(page, lang, "Continue"))

    assert_on(page, lang, "/join/questionnaire/4/")
    check_page(page, name="questionnaire part 4", lang=lang)
    answer(page, lang, FAMILY_QUESTION, walker.family_history)
    follow(page, button(page, lang, "Continue"))

    # The summary: every answer as given, then send.
    assert_on(page, lang, "/join/questionnaire/5/")
    check_page(page, name="questionnaire summary", lang=lang)
    shots.take(page, "questionnaire-summary")
    answers = page.locator("main").inner_text()
    weight = re.sub(r"[^0-9,.]", "", walker.weight)
    weight = weight.replace(".", ",") if lang == "sv" else weight.replace(",", ".")
    assert weight in answers
    assert translated(lang, walker.family_history) in answers
    follow(page, button(page, lang, "Send my answers"))

    screening = Screening.objects.get(prepatient__user__email=walker.email)
    programme = Programme.objects.get(code="prediabetes-2026")
    threshold = referral_score_threshold(programme_terms(programme))
    assert threshold is not None and screening.score >= threshold, screening.score


def come_back(page: Page, base_url: str, lang: str, walker: Walker, shots: Screenshots) -> None:
    """After "Save and continue later": the start page with a notice, then back to the
    questionnaire from the start page or from My page."""
    assert_on(page, lang, "/")
    check_page(page, name="start, answers saved", lang=lang)
    notice = translated(lang, "Your answers are saved. When you sign in again, you continue "
                              "where you left off.")
    assert notice in page.locator("main .messages").inner_text()
    if walker.come_back_via == "start":
        shots.take(page, "start-saved")
        follow(page, link(page, lang, "Continue where you left off"))
        return
    page.goto(base_url + site_path(lang, "/me/"))
    check_page(page, name="my page, on the way in", lang=lang)
    shots.take(page, "mypage-continue")
    follow(page, page.locator("main .continue-box").get_by_role(
        "link", name=translated(lang, "Continue"), exact=True))


def read_the_referral_code(page: Page, lang: str, shots: Screenshots) -> str:
    assert_on(page, lang, "/join/blood-test/")
    check_page(page, name="referral code", lang=lang)
    shots.take(page, "referral")
    code = page.locator("main .code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code), code
    assert "Laboratoriet Norr" in page.locator("main").inner_text()
    return code


def the_lab_reports(base_url: str, key: str, code: str, walker: Walker) -> None:
    body = {"referral_code": code, "value": str(HBA1C), "unit": "mmol/mol",
            "taken_on": DAY_ONE.isoformat(), "sample_id": f"WALK-{walker.personnummer[-4:]}"}
    status, answer_body = lab_result(base_url, key, body)
    assert status == 201, answer_body
    assert answer_body["status"] == "stored"
    sample = InclusionSample.objects.get(prepatient__user__email=walker.email)
    assert sample.value == HBA1C and sample.source == "lab"
    # The person is told by email that the result is there (never the value).
    with translation.override("sv"):
        subject = translation.gettext("Your blood test result has arrived")
    arrived = [message for message in mail.outbox
               if walker.email in message.to and message.subject == subject]
    assert len(arrived) == 1, [(m.to, m.subject) for m in mail.outbox]
    assert str(HBA1C) not in arrived[0].body


def see_the_result(page: Page, base_url: str, lang: str, walker: Walker,
                   shots: Screenshots) -> None:
    if walker.result_via == "reload":
        # Loaded again (without the #main the skip link left in the address).
        page.goto(page.url.split("#")[0])
    else:
        # Signed out, and back after the email: signing in lands on the result.
        follow(page, page.locator("header nav").get_by_role(
            "button", name=translated(lang, "Sign out"), exact=True))
        check_page(page, name="signed out", lang=lang)
        assert not is_signed_in(page, lang)
        page.goto(base_url + site_path(lang, "/accounts/login/"))
        check_page(page, name="sign-in", lang=lang)
        fill_sign_in(page, lang=lang, email=walker.email, password=PASSWORD)
    assert_on(page, lang, "/join/result/")
    check_page(page, name="result", lang=lang)
    shots.take(page, "result")
    assert heading(page) == translated(lang, "You can join the programme")
    assert "44" in page.locator("main dl.facts").inner_text()
    follow(page, link(page, lang, "Choose a provider"))


def choose_a_provider(page: Page, lang: str, walker: Walker, shots: Screenshots) -> None:
    assert_on(page, lang, "/providers/")
    check_page(page, name="marketplace", lang=lang)
    shots.take(page, "marketplace")
    # Filter by a language only one provider offers.
    page.locator("main details.filters summary").click()
    page.get_by_label(label(lang, "Language")).select_option("so")
    follow(page, button(page, lang, "Show providers"))
    check_page(page, name="marketplace, filtered", lang=lang)
    shots.take(page, "marketplace-filtered")
    assert page.locator("main ul.providers > li").count() == 1
    follow(page, page.locator("main ul.providers").get_by_role(
        "link", name=FIRST_PROVIDER, exact=True))

    provider = Provider.objects.get(name=FIRST_PROVIDER)
    assert_on(page, lang, f"/providers/{provider.pk}/")
    check_page(page, name="provider", lang=lang)
    shots.take(page, "provider")
    follow(page, link(page, lang, "Choose this provider"))

    assert_on(page, lang, f"/providers/{provider.pk}/choose/")
    check_page(page, name="choose a provider", lang=lang)
    shots.take(page, "choose")
    programme = Programme.objects.get(code="prediabetes-2026")
    window_end = switch_window_end(DAY_ONE, programme.switch_months)
    assert long_date(lang, window_end) in page.locator("main").inner_text()
    # Pressed twice: the page sends it once, and the server would refuse a repeat.
    confirm = button(page, lang, "Yes, choose %(name)s", name=FIRST_PROVIDER)
    with page.expect_navigation():
        confirm.dblclick()

    assert_on(page, lang, "/me/")
    check_page(page, name="my page", lang=lang)
    shots.take(page, "mypage")
    prepatient = Prepatient.objects.get(user__email=walker.email)
    assert prepatient.state == PrepatientState.ACTIVE and prepatient.enrolled_on == DAY_ONE
    assert list(Listing.objects.filter(prepatient=prepatient).values_list(
        "provider__name", "valid_from", "reason")) == [
        (FIRST_PROVIDER, DAY_ONE, ListingReason.INITIAL)]
    main = page.locator("main")
    provider_section = main.locator("section", has=page.locator("#provider-title"))
    assert FIRST_PROVIDER in provider_section.inner_text()
    assert words(lang, "You can switch to another provider until %(date)s.",
                 date=long_date(lang, window_end)) in provider_section.inner_text()
    table = main.locator("table", has=page.locator("caption"))
    first_row = table.locator("tbody tr").first
    assert first_row.locator("td.number").inner_text().strip() == "44"
    assert long_date(lang, DAY_ONE) in first_row.inner_text()


def switch_provider(page: Page, base_url: str, lang: str, walker: Walker,
                    walk_clock: WalkClock, shots: Screenshots) -> None:
    second = Provider.objects.get(name=SECOND_PROVIDER)
    follow(page, link(page, lang, "Look at other providers"))
    assert_on(page, lang, "/providers/")
    check_page(page, name="marketplace, enrolled", lang=lang)
    page.locator("main details.filters summary").click()
    page.get_by_role("group", name=translated(lang, "How you meet")).get_by_label(
        translated(lang, "Remote (phone, video or app)"), exact=True).check()
    follow(page, button(page, lang, "Show providers"))
    check_page(page, name="marketplace, remote only", lang=lang)
    follow(page, page.locator("main ul.providers").get_by_role(
        "link", name=SECOND_PROVIDER, exact=True))
    check_page(page, name="provider to switch to", lang=lang)
    follow(page, link(page, lang, "Switch to this provider"))
    check_page(page, name="switch provider", lang=lang)
    shots.take(page, "switch")
    assert heading(page) == words(lang, "Switch to %(name)s?", name=SECOND_PROVIDER)

    # The same day as the first choice: the rules refuse, on the same page.
    follow(page, button(page, lang, "Yes, switch to %(name)s", name=SECOND_PROVIDER))
    assert_on(page, lang, f"/providers/{second.pk}/choose/")
    check_page(page, name="switch refused", lang=lang)
    shots.take(page, "switch-refused")
    refusal = translated(lang, "You have already changed provider today. You can switch "
                               "again tomorrow.")
    assert refusal in page.locator("main .notice.error[role='alert']").inner_text()
    prepatient = Prepatient.objects.get(user__email=walker.email)
    assert prepatient.current_provider is not None
    assert prepatient.current_provider.name == FIRST_PROVIDER
    assert Listing.objects.filter(prepatient=prepatient).count() == 1

    # The next day the switch goes through, once, even when the form is sent again.
    walk_clock.go_to(DAY_TWO)
    page.goto(base_url + site_path(lang, f"/providers/{second.pk}/"))
    check_page(page, name="provider, the next day", lang=lang)
    follow(page, link(page, lang, "Switch to this provider"))
    check_page(page, name="switch provider, the next day", lang=lang)
    form = page.locator("main form[method='post']")
    sent = {name: form.locator(f"input[name='{name}']").input_value()
            for name in ("csrfmiddlewaretoken", "once")}
    follow(page, button(page, lang, "Yes, switch to %(name)s", name=SECOND_PROVIDER))
    assert_on(page, lang, "/me/")
    check_page(page, name="my page after the switch", lang=lang)
    shots.take(page, "mypage-switched")
    provider_section = page.locator("main section", has=page.locator("#provider-title"))
    assert SECOND_PROVIDER in provider_section.inner_text()
    assert FIRST_PROVIDER not in provider_section.inner_text()

    again = page.request.post(base_url + site_path(lang, f"/providers/{second.pk}/choose/"),
                              form=sent)
    assert again.ok and path_of_url(again.url) == site_path(lang, "/me/"), again.url
    assert list(Listing.objects.filter(prepatient=prepatient).order_by("valid_from")
                .values_list("provider__name", "valid_from", "reason")) == [
        (FIRST_PROVIDER, DAY_ONE, ListingReason.INITIAL),
        (SECOND_PROVIDER, DAY_TWO, ListingReason.SWITCH)]
    prepatient.refresh_from_db()
    assert prepatient.current_provider_id == second.pk


def path_of_url(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url).split("?")[0]


def the_read_aloud_button(page: Page, lang: str) -> None:
    """At phone width the read-aloud button is offered with its name, or hidden when the
    browser has no speech synthesis."""
    assert page.viewport_size == PHONE
    holder = page.locator("main .read-aloud")
    read_aloud = holder.get_by_role("button", name=translated(lang, "Read this page aloud"),
                                    exact=True)
    has_speech = page.evaluate("'speechSynthesis' in window")
    if has_speech:
        assert read_aloud.is_visible()
        assert read_aloud.get_attribute("aria-pressed") == "false"
    else:
        assert holder.is_hidden()


def withdraw_consent(page: Page, lang: str, walker: Walker, shots: Screenshots) -> None:
    follow(page, link(page, lang, "See your consents, and donate data to research"))
    assert_on(page, lang, "/me/consents/")
    check_page(page, name="consents", lang=lang)
    shots.take(page, "consents")
    follow(page, link(page, lang, "Withdraw your consent"))

    assert_on(page, lang, "/me/consents/withdraw/")
    check_page(page, name="withdraw consent", lang=lang)
    shots.take(page, "withdraw")
    effects = page.locator("main ul.withdraw-effects").inner_text()
    assert translated(lang, "You leave the programme at once.") in effects
    ends_research = translated(lang, "Your donation of data to research also ends.")
    assert (ends_research in effects) is walker.research
    withdraw = button(page, lang, "Withdraw my consent")
    if lang == "en":
        # Sent without the tick: refused, and nothing changes.
        follow(page, withdraw)
        check_page(page, name="withdraw consent with an error", lang=lang)
        shots.take(page, "withdraw-error")
        assert translated(lang, "Tick the box to confirm that you want to withdraw your "
                                "consent.") in page.locator("main .error-summary").inner_text()
        assert Prepatient.objects.get(user__email=walker.email).consent_valid
    page.get_by_label(label(lang, "I understand what withdrawing my consent means.")).check()
    follow(page, withdraw)

    assert_on(page, lang, "/me/")
    check_page(page, name="my page, consent withdrawn", lang=lang)
    shots.take(page, "mypage-withdrawn")
    main = page.locator("main").inner_text()
    assert translated(lang, "No longer taking part") in main
    assert words(lang, "You withdrew your consent on %(date)s. Your data is no longer shared "
                       "with your provider or with researchers.",
                 date=long_date(lang, DAY_TWO)) in main
    prepatient = Prepatient.objects.get(user__email=walker.email)
    assert not prepatient.consent_valid and not prepatient.research_consent
    assert prepatient.state == PrepatientState.EXCLUDED
    assert LifecycleEvent.objects.filter(
        prepatient=prepatient, type=LifecycleEventType.CONSENT_WITHDRAWN, on=DAY_TWO).exists()
    assert User.objects.get(email=walker.email).is_active
