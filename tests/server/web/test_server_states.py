"""The page and the server's states: a key required, models loading, a server restart."""

import pytest

from coordinator.config.settings import Settings
from coordinator.server.app import create_app
from tests.server.conftest import serving
from tests.server.web.conftest import free_port, wait_until

pytestmark = pytest.mark.browser

KEY = "page-key_1"


def _settings(model_env, **changes) -> Settings:
    return Settings(_env_file=None, **{k.lower(): v for k, v in model_env.items()}, **changes)


def _only_key_refusals(errors):
    # Chromium logs every 4xx fetch as a console error; the refused key checks are expected.
    return [e for e in errors if "status of 401" not in e]


def test_with_an_api_key_the_page_asks_once_reports_a_wrong_key_and_works_with_the_right_one(
    open_page, model_env, runtime
):
    app = create_app(_settings(model_env, api_key=KEY), runtime=runtime)
    with serving(app) as url:
        page, log = open_page(url)
        page.wait_for_selector("#key-dialog[open]")
        assert page.inner_text("#server-state") == "API key needed"
        page.fill("#key-input", "wrong-key")
        page.click("#key-submit")
        error = page.wait_for_selector("#key-error:not([hidden])")
        assert "Incorrect API key provided" in error.inner_text()
        page.fill("#key-input", KEY)
        page.click("#key-submit")
        page.wait_for_selector('#server-state[data-state="ready"]')
        assert not page.is_visible("#key-dialog")
        page.fill("#speech-text", "Hello.")
        page.click("#speech-speak")
        wait_until(page, "orpheus.player.stats().scheduled > 0")
        # Kept for the browser session: a reload does not ask again.
        page.reload()
        page.wait_for_selector('#server-state[data-state="ready"]')
        assert not page.is_visible("#key-dialog")
        assert _only_key_refusals(log.errors) == []


def test_the_page_opens_while_the_models_load_says_so_then_turns_usable_by_itself(
    open_page, settings, runtime
):
    app = create_app(settings, runtime=runtime)
    with serving(app) as url:
        app.state.runtime = None  # what the lifespan holds until the models are loaded and warm
        page, log = open_page(url)
        page.wait_for_selector('#server-state[data-state="loading"]')
        assert page.is_visible("#banner") and "loading" in page.inner_text("#banner")
        assert page.is_disabled("#speech-speak")
        app.state.runtime = runtime
        page.wait_for_selector('#server-state[data-state="ready"]')
        page.wait_for_selector("#speech-speak:not([disabled])")
        assert not page.is_visible("#banner")
        assert log.errors == []


def test_the_page_survives_a_server_restart(open_page, settings, runtime):
    port = free_port()
    with serving(create_app(settings, runtime=runtime), port) as url:
        page, log = open_page(url)
        page.wait_for_selector('#server-state[data-state="ready"]')
    page.wait_for_selector('#server-state[data-state="unreachable"]')
    assert page.is_disabled("#speech-speak") and "cannot be reached" in page.inner_text("#banner")
    with serving(create_app(settings, runtime=runtime), port):
        page.wait_for_selector('#server-state[data-state="ready"]')
        page.fill("#speech-text", "Back again.")
        page.click("#speech-speak")
        wait_until(page, "orpheus.player.stats().scheduled > 0")
    # The failed polls while the server was down are the only errors the console saw.
    assert all("ERR_CONNECTION_REFUSED" in e for e in log.errors)
