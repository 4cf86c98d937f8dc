"""The checks themselves catch what they are for (so a green run means something)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import (
    assert_accessible,
    assert_no_horizontal_scroll,
    assert_skip_link_first,
    axe_violations,
    check_page,
    save_screenshots,
)

pytestmark = pytest.mark.browser

GOOD = """<!doctype html><html lang="en"><head><title>Good</title></head><body>
<a href="#main">Skip to content</a><header><a href="/">Home</a></header>
<main id="main" tabindex="-1"><h1>Good</h1>
<label for="name">Name</label><input id="name" name="name"></main></body></html>"""

BAD = """<!doctype html><html><head><title>Bad</title></head><body>
<header><a href="/">Home</a></header><a href="#main">Skip</a>
<main id="main"><h1>Bad</h1><input name="name">
<p style="color:#bbb;background:#fff">Pale text</p>
<div class="wide" style="width:600px">Too wide</div></main></body></html>"""


def test_axe_lists_every_violation_with_its_nodes(page: Any) -> None:
    page.set_content(BAD)
    ids = {violation["id"] for violation in axe_violations(page)}
    assert {"html-has-lang", "label", "color-contrast"} <= ids
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page, "bad page")
    message = str(failure.value)
    assert "html-has-lang [serious]" in message
    assert "label [critical]" in message
    assert "target: ['input']" in message
    assert '<input name="name">' in message


def test_a_page_wider_than_320_px_fails_naming_the_element(page: Any) -> None:
    page.set_content(BAD)
    with pytest.raises(AssertionError, match=r"div\.wide"):
        assert_no_horizontal_scroll(page)


def test_the_skip_link_must_come_first(page: Any) -> None:
    page.set_content(BAD)
    with pytest.raises(AssertionError, match="expected the skip link"):
        assert_skip_link_first(page)


def test_a_good_page_passes_every_check(page: Any, tmp_path: Any,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    page.set_content(GOOD)
    assert_skip_link_first(page)
    assert_accessible(page, "good page")
    assert_no_horizontal_scroll(page)

    monkeypatch.setenv("SCREENSHOT_DIR", str(tmp_path))
    saved = save_screenshots(page, lang="en", number=7, name="good")
    assert [path.relative_to(tmp_path).as_posix() for path in saved] == [
        "en/07-good-320.png", "en/07-good-360.png", "en/07-good-1280.png"]
    assert all(path.stat().st_size > 0 for path in saved)
    assert page.viewport_size == {"width": 360, "height": 740}


FOCUSED_ON_LOAD = """<!doctype html><html lang="en"><head><title>Errors</title></head><body>
<a href="#main">Skip to content</a><header><button id="out">Menu</button></header>
<main id="main" tabindex="-1"><h1>Errors</h1>
<div class="error-summary" tabindex="-1" role="alert"><h2>Please check</h2></div>
<label for="name">Name</label><input id="name" name="name" aria-invalid="true"></main>
<script>document.getElementById("%s").focus();</script></body></html>"""


def test_a_page_may_move_the_focus_on_load_only_into_main(page: Any) -> None:
    page.set_content(FOCUSED_ON_LOAD % "name")
    check_page(page, name="errors", lang="en")

    page.set_content(FOCUSED_ON_LOAD % "out")
    with pytest.raises(AssertionError, match="outside <main>"):
        check_page(page, name="errors", lang="en")
