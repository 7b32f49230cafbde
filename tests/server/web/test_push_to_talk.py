"""Push-to-talk in the voice chat, in headless Chromium whose fake microphone plays a sentence
spoken by espeak-ng: the recording goes to /chat as audio, the tiny random Whisper's transcript
shows as the user's turn, and the reply is written and spoken. The words are meaningless."""

from __future__ import annotations

import base64

import pytest

from tests.rig.audio_samples import encode, spoken
from tests.server.web.conftest import CHROMIUM, CHROMIUM_ARGS, PAGE_TIMEOUT_MS, PageLog, screenshot

pytestmark = pytest.mark.browser
HOLD_MS = 2500


@pytest.fixture(scope="module")
def microphone_browser(playwright_driver, tmp_path_factory):
    wav = tmp_path_factory.mktemp("mic") / "question.wav"
    wav.write_bytes(encode(*spoken("What is the weather like today?"), "wav"))
    fake_microphone = [
        "--use-fake-ui-for-media-stream",  # grant the permission without asking
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ]
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + fake_microphone
    )
    yield browser
    browser.close()


def test_holding_the_microphone_button_sends_a_spoken_turn_and_shows_its_transcript(
    microphone_browser, web_url
):
    context = microphone_browser.new_context(permissions=["microphone"])
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    log = PageLog(page)
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/chat") else None)
    try:
        page.goto(f"{web_url}/#chat")
        button = page.wait_for_selector("#chat-mic:not([disabled])")
        box = button.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.wait_for_selector('#chat-mic[aria-pressed="true"]')
        page.wait_for_timeout(HOLD_MS)
        page.mouse.up()
        said = page.wait_for_selector("#chat-log li.user:not([data-state])", timeout=120_000)
        page.wait_for_selector('#chat-log li.assistant[data-state="done"]', timeout=120_000)
        screenshot(page, "chat-push-to-talk")
        assert said.inner_text().strip()
        body = sent[-1]
        assert "message" not in body and len(base64.b64decode(body["audio"])) > 1000
        assert body["stream_format"] == "sse"
        assert log.errors == []
    finally:
        context.close()


def test_without_a_recogniser_the_page_shows_no_microphone(microphone_browser, settings, runtime):
    import copy

    from coordinator.server.app import create_app
    from tests.server.conftest import serving

    speechless = copy.copy(runtime)
    speechless.stt = None
    context = microphone_browser.new_context()
    try:
        with serving(create_app(settings, runtime=speechless)) as url:
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(f"{url}/#chat")
            page.wait_for_selector('#server-state[data-state="ready"]')
            page.wait_for_selector("#chat-voice option", state="attached")
            assert page.is_hidden("#chat-mic")
    finally:
        context.close()
