"""Browser tests: Playwright (Python, sync API) driving Debian's Chromium.

Playwright's own browser downloads are never used: Chromium is the Debian
package (/usr/bin/chromium, or $CHROMIUM_PATH). Without it the browser tests
skip, naming the package to install; with REQUIRE_BROWSER=1 (CI) they fail.

The site runs in pytest-django's live server (a thread of the test process),
so these tests are transactional: each one starts from the rows of the
migrations (serialized rollback) and the demo data of ``make run``
(``site_data``).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connections

from tests.browser.helpers import PHONE, screenshot_root
from tests.conftest import ensure_reference_data

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The machine's network is closed: no first-run, sync, update or field-trial traffic.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "Debian's Chromium is needed for the browser tests: "
    "apt-get install --no-install-recommends chromium"
)


def _browser_required() -> bool:
    return os.environ.get("REQUIRE_BROWSER", "").lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> NoReturn:
    if _browser_required():
        pytest.fail(f"{reason} (REQUIRE_BROWSER is set). {INSTALL_HINT}", pytrace=False)
    pytest.skip(f"{reason}. {INSTALL_HINT}")


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the browser tests (a fresh profile per launch).

    Playwright's sync API keeps an asyncio loop running in the main thread while
    it is started, which Django's async-safety check would refuse; the check is
    off only for as long as the browser runs.
    """
    if not (os.path.isfile(CHROMIUM_PATH) and os.access(CHROMIUM_PATH, os.X_OK)):
        _unavailable(f"Chromium was not found at {CHROMIUM_PATH}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a dev install always has it
        _unavailable("The Python package playwright is not installed (make test installs it)")

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # With a running loop, Django looks its connections up per context instead
    # of per thread, and would open new ones that know nothing of the test
    # database's set-up (its serialized rows, its open test transaction). The
    # tests keep using the thread's connections.
    thread_connections = {alias: connections[alias] for alias in connections}
    playwright = sync_playwright().start()
    for alias, connection in thread_connections.items():
        connections[alias] = connection
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def site_data(transactional_db: Any, django_db_serialized_rollback: None) -> None:
    """The rows the pages need, as `make run` has them.

    Serialized rollback: each test starts from the rows the migrations made
    (the programme, the measurement types, content types), and its closing
    flush leaves no half-made rows behind for the transactional tests that
    follow (they restore the same rows the same way). Then the demo data
    (consent texts, providers, demo accounts). The cache is emptied too: the
    live server shares it with the rest of the suite (allauth's rate limits).
    """
    cache.clear()
    ensure_reference_data()
    call_command("load_demo", verbosity=0)


@pytest.fixture
def base_url(live_server: Any, site_data: None) -> str:
    """The live server's address, with the site's data in place."""
    return str(live_server.url)


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a new browser context (its own cookies), phone-sized.

    When the test fails, a full-page screenshot of where the browser was is
    saved under <screenshots>/failures/.
    """
    context = chromium.new_context(viewport=PHONE, locale="sv-SE",
                                   timezone_id="Europe/Stockholm")
    context.set_default_timeout(15_000)
    browser_page = context.new_page()
    try:
        yield browser_page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            folder = screenshot_root() / "failures"
            folder.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
            # A screenshot that cannot be taken must not hide the test's own error.
            with contextlib.suppress(Exception):
                browser_page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keeps each phase's report on the test item (the ``page`` fixture reads it)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
