"""The public pages in a real browser, in Swedish and in English.

Each page: the right language, one h1, the skip link first, zero axe-core
violations at WCAG 2.1 AA, no sideways scrolling at 320 px, screenshots at
phone and desktop width; the language switch returns the same page in the
other language. Then sign-up to a confirmed, signed-in account on the consent
page, and the sign-up and sign-in forms sent back with errors.
"""

from __future__ import annotations

from typing import Any

import pytest

from apps.core.models import User
from apps.demo.management.commands.load_demo import PREPATIENT_PASSWORD
from tests.browser.helpers import (
    LANGUAGES,
    OTHER_LANGUAGE,
    SIGN_IN_LABELS,
    SIGN_UP_LABELS,
    Screenshots,
    assert_language,
    check_page,
    fill_sign_in,
    is_signed_in,
    label,
    path_of,
    save_screenshots,
    sign_up_and_confirm,
    site_path,
    switch_language,
)

pytestmark = pytest.mark.browser

DEMO_EMAIL = "prepatient@demo.invalid"  # the demo person of `make run` (load_demo)

# (number in the screenshots, name, Swedish path)
PUBLIC_PAGES = [
    (1, "start", "/"),
    (2, "about", "/about/"),
    (3, "signup", "/accounts/signup/"),
    (4, "login", "/accounts/login/"),
    (5, "marketplace", "/providers/"),
]


def _open(page: Any, base_url: str, lang: str, name: str, path: str) -> None:
    response = page.goto(base_url + site_path(lang, path))
    assert response is not None
    assert response.status == 200, f"{name}: {page.url} answered {response.status}"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("number", "name", "path"), PUBLIC_PAGES,
                         ids=[name for _n, name, _p in PUBLIC_PAGES])
def test_public_page(page: Any, base_url: str, lang: str, number: int, name: str,
                     path: str) -> None:
    _open(page, base_url, lang, name, path)
    check_page(page, name=name, lang=lang)
    save_screenshots(page, lang=lang, number=number, name=name)


# Django's set_language cannot resolve an /en/ path: the switch view is outside
# i18n_patterns, so it runs in Swedish (the unprefixed default), and it sends
# the person back to the same English page. The fix belongs in base.html: post
# the page's path already translated to the target language as `next`
# (django.urls.translate_url while rendering). Remove this mark with the fix.


@pytest.mark.parametrize("lang", LANGUAGES)
def test_language_switch_keeps_the_page(page: Any, base_url: str, lang: str) -> None:
    for _number, name, path in PUBLIC_PAGES:
        _open(page, base_url, lang, name, path)
        switch_language(page, OTHER_LANGUAGE[lang])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_sign_up_confirm_and_continue_signed_in(page: Any, base_url: str, lang: str) -> None:
    email = f"new-person-{lang}@example.org"
    shots = Screenshots(lang=lang, number=10)

    sign_up_and_confirm(page, base_url, lang=lang, email=email,
                        password="Blåbär och havregryn 2026", shots=shots)

    user = User.objects.get(email=email)
    assert user.emailaddress_set.get(email=email).verified
    # Signed in, and on the first step of the way in: consent.
    assert path_of(page) == site_path(lang, "/join/consent/"), (
        f"after confirming, the browser is on {page.url}")
    assert is_signed_in(page, lang)
    check_page(page, name="consent", lang=lang)
    shots.take(page, "consent")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_sign_up_errors_are_accessible_and_keep_the_email(page: Any, base_url: str,
                                                          lang: str) -> None:
    page.goto(base_url + site_path(lang, "/accounts/signup/"))
    page.get_by_label(label(lang, SIGN_UP_LABELS["email"])).fill("typed@example.org")
    page.get_by_label(label(lang, SIGN_UP_LABELS["password"])).fill("Blåbär och havregryn 2026")
    again = page.get_by_label(label(lang, SIGN_UP_LABELS["again"]))
    again.fill("something else entirely 99")
    with page.expect_navigation():
        again.press("Enter")

    check_page(page, name="sign-up with errors", lang=lang)
    save_screenshots(page, lang=lang, number=6, name="signup-error")
    assert page.get_by_label(label(lang, SIGN_UP_LABELS["email"])).input_value() == (
        "typed@example.org")
    assert page.locator("main [aria-invalid='true']").count() >= 1
    assert not User.objects.filter(email="typed@example.org").exists()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_sign_in_with_a_wrong_password_then_the_right_one(page: Any, base_url: str,
                                                          lang: str) -> None:
    page.goto(base_url + site_path(lang, "/accounts/login/"))
    fill_sign_in(page, lang=lang, email=DEMO_EMAIL, password="not the password")

    check_page(page, name="sign-in with errors", lang=lang)
    save_screenshots(page, lang=lang, number=7, name="login-error")
    assert page.get_by_label(label(lang, SIGN_IN_LABELS["email"])).input_value() == DEMO_EMAIL
    assert not is_signed_in(page, lang)

    fill_sign_in(page, lang=lang, email=DEMO_EMAIL, password=PREPATIENT_PASSWORD)
    assert_language(page, lang)
    assert is_signed_in(page, lang), f"{page.url}: not signed in as {DEMO_EMAIL}"
