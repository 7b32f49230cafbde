"""Browser tests: the page at / in headless Chromium (Debian's package), driven by Playwright,
against a real uvicorn serving the tiny models. They skip, saying why, where either is missing,
and fail under CI (tests/rig/tools.py): .ci/run installs both, so CI always runs them."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from coordinator.server.app import create_app
from tests.rig.tools import require
from tests.rig.waiting import HANG_GUARD_S, eventually
from tests.server.conftest import client, runtime, serving  # noqa: F401  (fixtures shared with the server tests)

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", REPO / "build" / "screenshots"))
# Chromium in a container: no sandbox (root, no user namespaces), no GPU, audio without a click.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"]
# Every wait on the page; generous because the CPU is shared with the models.
PAGE_TIMEOUT_MS = 30_000


def browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install playwright)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
    return None


# Per module, not per session: while sync Playwright runs, its event loop is the running loop of
# the main thread, and tests elsewhere that call asyncio.run() would fail.
@pytest.fixture(scope="module")
def playwright_driver():
    """One Playwright per module (its sync API allows no second one at a time); browsers launch from it."""
    require(
        browser_missing(), installed_by=".ci/run installs Chromium (Playwright comes with the [test] extra)"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_driver):
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class PageLog:
    """What the page said on its console and what it threw: a clean page says nothing bad."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))


@pytest.fixture
def open_page(browser):
    """Open the page at a URL in a fresh browser context (its own session and IndexedDB);
    returns (page, log). Pass ``viewport`` for a phone-sized screen."""
    contexts = []

    def open_(url: str, **context_options):
        context = browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        log = PageLog(page)
        page.goto(url)
        return page, log

    yield open_
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def web_app(settings, runtime):  # noqa: F811
    return create_app(settings, runtime=runtime)


@pytest.fixture(scope="module")
def web_url(web_app) -> Iterator[str]:
    with serving(web_app) as url:
        yield url


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(page, expression: str, *, timeout_s: float = HANG_GUARD_S):
    """Poll ``expression`` (JavaScript) in the page until it is truthy; return its value.
    (Playwright's wait_for_function evaluates with eval, which the page's CSP rightly forbids.)"""
    return eventually(lambda: page.evaluate(expression), expression, timeout_s=timeout_s)
