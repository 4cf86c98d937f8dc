"""What the browser tests share: checking a page, screenshots, signing up.

Every page a browser test visits is checked with ``check_page`` right after it
loads (before anything on it is touched): the language of the page, one h1,
the skip link first in the tab order, axe-core at WCAG 2.1 AA with zero
violations, no horizontal scrolling at 320 px. ``Screenshots`` saves full-page
pictures at phone and desktop width into artifacts/screenshots/<lang>/.

The live server runs in the test process, so the confirmation email of a
sign-up is read from ``django.core.mail.outbox``.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core import mail
from django.utils import translation
from playwright.sync_api import Page

REPO_ROOT = Path(__file__).resolve().parents[2]
AXE_PATH = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

PHONE = {"width": 360, "height": 740}
NARROW = {"width": 320, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
SCREENSHOT_SIZES = (NARROW, PHONE, DESKTOP)

LANGUAGES = ("sv", "en")
OTHER_LANGUAGE = {"sv": "en", "en": "sv"}
# The language switch names the other language in that language (base.html).
SWITCH_LABEL = {"sv": "På svenska", "en": "In English"}


# --- URLs and words ---------------------------------------------------------

def site_path(lang: str, path: str) -> str:
    """The path of a page in a language: Swedish has no prefix, English /en/."""
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
    return path if lang == "sv" else f"/en{path}"


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def translated(lang: str, msgid: str) -> str:
    """A message as the site shows it in ``lang`` (the project's and Django's catalogues)."""
    with translation.override(lang):
        return str(translation.gettext(msgid))


def label(lang: str, msgid: str) -> re.Pattern[str]:
    """A form label in ``lang`` for ``get_by_label``: exact, with or without Django's colon."""
    return re.compile(rf"^\s*{re.escape(translated(lang, msgid))}\s*:?\s*$")


# --- Checking a page ----------------------------------------------------------

def assert_language(page: Page, lang: str) -> None:
    actual = page.evaluate("document.documentElement.lang")
    assert actual == lang, f"{page.url}: <html lang> is {actual!r}, expected {lang!r}"


def assert_one_h1(page: Page) -> None:
    count = page.locator("h1").count()
    assert count == 1, f"{page.url}: {count} h1 elements, expected exactly one"


def assert_skip_link_first(page: Page) -> None:
    """The first Tab from the top of a freshly loaded page reaches the skip link,
    and following it moves the focus to the main content."""
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => { const el = document.activeElement;"
        " return el ? {tag: el.tagName, href: el.getAttribute('href'),"
        " cls: el.className, text: (el.textContent || '').trim()} : null; }"
    )
    assert focused and focused["tag"] == "A" and focused["href"] == "#main", (
        f"{page.url}: the first Tab focuses {focused!r}, expected the skip link to #main"
    )
    page.keyboard.press("Enter")
    in_main = page.evaluate(
        "() => { const main = document.getElementById('main');"
        " return !!main && (document.activeElement === main"
        " || main.contains(document.activeElement)); }"
    )
    assert in_main, f"{page.url}: following the skip link does not move the focus to <main>"


def _format_violations(name: str, url: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"axe-core found {len(violations)} WCAG 2.1 AA violation(s) on {name} ({url}):"]
    for violation in violations:
        lines.append(
            f"- {violation['id']} [{violation.get('impact')}]: {violation['help']}"
            f" ({violation.get('helpUrl', '')})"
        )
        for node in violation.get("nodes", []):
            lines.append(f"    target: {node.get('target')}")
            lines.append(f"    html:   {node.get('html', '').strip()[:300]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ").strip()
            if summary:
                lines.append(f"    why:    {summary[:400]}")
    return "\n".join(lines)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Runs axe-core (vendored) on the page at WCAG 2.0/2.1 A and AA."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_PATH))
    result: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
            const results = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return results.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map((n) => ({target: n.target, html: n.html,
                                            failureSummary: n.failureSummary})),
            }));
        }""",
        AXE_TAGS,
    )
    return result


def assert_accessible(page: Page, name: str) -> None:
    """Zero axe-core violations at WCAG 2.1 AA; the failure lists every one."""
    violations = axe_violations(page)
    assert not violations, _format_violations(name, page.url, violations)


def assert_no_horizontal_scroll(page: Page, width: int = NARROW["width"]) -> None:
    """At ``width`` CSS pixels the page fits: nothing scrolls sideways."""
    before = page.viewport_size
    page.set_viewport_size({"width": width, "height": NARROW["height"]})
    try:
        _settle(page)
        fits = page.evaluate(
            """() => {
                const doc = document.documentElement;
                if (doc.scrollWidth <= window.innerWidth) return null;
                const wide = [];
                for (const el of document.body.querySelectorAll("*")) {
                    const box = el.getBoundingClientRect();
                    if (box.right > window.innerWidth + 0.5 && box.width > 0) {
                        const id = el.id ? "#" + el.id : "";
                        const cls = typeof el.className === "string" && el.className
                            ? "." + el.className.trim().split(/\\s+/).join(".") : "";
                        wide.push(el.tagName.toLowerCase() + id + cls
                                  + " (right edge " + Math.round(box.right) + ")");
                    }
                    if (wide.length >= 8) break;
                }
                return {scrollWidth: doc.scrollWidth, innerWidth: window.innerWidth, wide};
            }"""
        )
        assert fits is None, (
            f"{page.url}: scrolls sideways at {width} px (scrollWidth {fits['scrollWidth']}"
            f" > {fits['innerWidth']}); too wide: {', '.join(fits['wide'])}"
        )
    finally:
        if before:
            page.set_viewport_size(before)


def focused_element(page: Page) -> dict[str, Any] | None:
    """What has the keyboard focus (None: nothing, the page itself)."""
    result: dict[str, Any] | None = page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el || el === document.body || el === document.documentElement) return null;
            const main = document.getElementById("main");
            return {tag: el.tagName, id: el.id, cls: String(el.className || ""),
                    inMain: !!main && main.contains(el) && el !== main,
                    text: (el.textContent || "").trim().slice(0, 80)};
        }"""
    )
    return result


def check_page(page: Page, *, name: str, lang: str) -> None:
    """Every check a page must pass. Call it right after the page has loaded,
    before anything on it is touched.

    A page that moves the focus itself when it loads (a form sent back with
    its error summary focused) must have moved it into <main>; every other
    page must have the skip link first in the tab order.
    """
    page.wait_for_load_state("load")
    assert_language(page, lang)
    assert_one_h1(page)
    moved = focused_element(page)
    if moved is None:
        assert_skip_link_first(page)
    else:
        assert moved["inMain"], (
            f"{page.url}: the page put the focus on {moved!r} when it loaded, outside <main>"
        )
    assert_accessible(page, f"{name} ({lang})")
    assert_no_horizontal_scroll(page)


def switch_language(page: Page, to: str) -> None:
    """Presses the language switch and checks the same page came back in ``to``."""
    before = path_of(page)
    expected = _counterpart(before, to)
    button = page.locator("header form.language").get_by_role("button", name=SWITCH_LABEL[to])
    with page.expect_navigation():
        button.click()
    assert_language(page, to)
    assert path_of(page) == expected, (
        f"the language switch went from {before} to {path_of(page)}, expected {expected}"
    )


def _counterpart(path: str, to: str) -> str:
    swedish = path[3:] if path.startswith("/en/") else path
    return site_path(to, swedish)


# --- Screenshots --------------------------------------------------------------

def screenshot_root() -> Path:
    """artifacts/screenshots/ in the repository, or $SCREENSHOT_DIR."""
    configured = os.environ.get("SCREENSHOT_DIR")
    return Path(configured) if configured else REPO_ROOT / "artifacts" / "screenshots"


def _settle(page: Page) -> None:
    """Waits for layout after a viewport change (two animation frames)."""
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )


def save_screenshots(
    page: Page, *, lang: str, number: int, name: str,
    sizes: Iterable[dict[str, int]] = SCREENSHOT_SIZES,
) -> list[Path]:
    """Full-page screenshots at each width: <root>/<lang>/<nn>-<name>-<width>.png."""
    folder = screenshot_root() / lang
    folder.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    saved = []
    try:
        for size in sizes:
            page.set_viewport_size(size)
            _settle(page)
            path = folder / f"{number:02d}-{name}-{size['width']}.png"
            page.screenshot(path=str(path), full_page=True, animations="disabled",
                            caret="hide")
            saved.append(path)
    finally:
        if before:
            page.set_viewport_size(before)
    return saved


@dataclass
class Screenshots:
    """Numbered screenshots of a walk through the site, in the order taken."""

    lang: str
    number: int = 0
    taken: list[Path] = field(default_factory=list)

    def take(self, page: Page, name: str) -> list[Path]:
        self.number += 1
        paths = save_screenshots(page, lang=self.lang, number=self.number, name=name)
        self.taken.extend(paths)
        return paths


# --- Signing up and signing in ----------------------------------------------------

CONFIRMATION_LINK = re.compile(r"https?://\S+/accounts/confirm-email/[^/\s]+/")
# The labels of the sign-up form (msgids of templates/account/signup.html).
SIGN_UP_LABELS = {
    "email": "Email address",
    "password": "Choose a password",
    "again": "Type the password again",
}


def fill_sign_up(page: Page, *, lang: str, email: str, password: str) -> None:
    """Fills the sign-up form the way a person does: by its labels, then Enter."""
    page.get_by_label(label(lang, SIGN_UP_LABELS["email"])).fill(email)
    page.get_by_label(label(lang, SIGN_UP_LABELS["password"])).fill(password)
    again = page.get_by_label(label(lang, SIGN_UP_LABELS["again"]))
    again.fill(password)
    with page.expect_navigation():
        again.press("Enter")


# The labels of the sign-in form (msgids of templates/account/login.html).
SIGN_IN_LABELS = {"email": "Email address", "password": "Password"}


def fill_sign_in(page: Page, *, lang: str, email: str, password: str) -> None:
    """Fills the sign-in form by its labels and sends it with Enter."""
    page.get_by_label(label(lang, SIGN_IN_LABELS["email"])).fill(email)
    secret = page.get_by_label(label(lang, SIGN_IN_LABELS["password"]))
    secret.fill(password)
    with page.expect_navigation():
        secret.press("Enter")


def sign_in(page: Page, base_url: str, *, lang: str, email: str, password: str) -> None:
    """Signs in from the sign-in page; ends where the site sends the person."""
    page.goto(base_url + site_path(lang, "/accounts/login/"))
    fill_sign_in(page, lang=lang, email=email, password=password)
    assert is_signed_in(page, lang), f"{page.url}: not signed in as {email}"


def confirmation_link(email: str) -> str:
    """The confirmation link in the latest email sent to ``email``."""
    sent = [message for message in mail.outbox if email in message.to]
    assert sent, f"no email was sent to {email} (outbox: {[m.to for m in mail.outbox]})"
    body = sent[-1].body
    found = CONFIRMATION_LINK.search(body)
    assert found, f"no confirmation link in the email to {email}:\n{body}"
    return found.group(0)


def press_main_submit(page: Page) -> None:
    """Presses the (single) submit button of the form in <main> by keyboard."""
    button = page.locator("main form button[type='submit']")
    assert button.count() == 1, f"{page.url}: {button.count()} submit buttons in main"
    button.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")


def is_signed_in(page: Page, lang: str) -> bool:
    """The header offers "Sign out" only to a signed-in person."""
    sign_out = page.locator("header nav").get_by_role(
        "button", name=translated(lang, "Sign out"), exact=True)
    return sign_out.count() == 1


def sign_up_and_confirm(
    page: Page, base_url: str, *, lang: str, email: str, password: str,
    shots: Screenshots | None = None,
) -> None:
    """Sign-up to a confirmed, signed-in account, checking every page on the way.

    Ends on the page the site sends a newly confirmed person to.
    """
    page.goto(base_url + site_path(lang, "/accounts/signup/"))
    check_page(page, name="sign-up", lang=lang)
    if shots is not None:
        shots.take(page, "signup")
    fill_sign_up(page, lang=lang, email=email, password=password)
    assert path_of(page) == site_path(lang, "/accounts/confirm-email/"), (
        f"after signing up the browser is on {page.url}, expected the 'verify your email' page"
    )
    check_page(page, name="verify your email", lang=lang)
    if shots is not None:
        shots.take(page, "verify-email")

    page.goto(confirmation_link(email))
    check_page(page, name="confirm email", lang=lang)
    if shots is not None:
        shots.take(page, "confirm-email")
    press_main_submit(page)


def api_post(base_url: str, path: str, key: str, body: dict[str, Any]) -> tuple[int, Any]:
    """POSTs JSON to the live server's real API (http only)."""
    assert base_url.startswith("http://"), base_url
    request = urllib.request.Request(  # noqa: S310 - the live server's own address
        f"{base_url}/api/v1/{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json",
                 "Accept-Language": "en"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the live server
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
