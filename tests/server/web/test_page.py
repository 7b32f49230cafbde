"""The page at / in a real browser (headless Chromium) on a real uvicorn with the tiny models."""

from pathlib import Path

import httpx
import pytest

from coordinator.audio.format import SAMPLES_PER_FRAME
from tests.server.checks import wait_until_free
from tests.server.web.conftest import screenshot, wait_until

pytestmark = pytest.mark.browser

TABS = ("speech", "chat", "voices", "status")
PHONE = {"width": 390, "height": 844}
PLAYED_ALL = (
    "(() => { const s = orpheus.player.stats(); return s.scheduled > 0 && s.played === s.scheduled; })()"
)


def _ready(page):
    page.wait_for_selector('#server-state[data-state="ready"]')
    page.wait_for_selector("#speech-speak:not([disabled])")


def _chat_ready(page):
    page.wait_for_selector('#server-state[data-state="ready"]')
    page.wait_for_selector("#chat-voice option", state="attached")


def _advanced(page, **fields):
    page.click(".advanced summary")
    for name, value in fields.items():
        page.fill(f"#speech-{name}", str(value))


def test_every_tab_loads_without_console_errors_and_every_control_has_a_label(open_page, web_url):
    page, log = open_page(web_url)
    _ready(page)
    for tab in TABS:
        page.click(f"#tab-{tab}")
        assert page.is_visible(f"#panel-{tab}")
        if tab == "status":
            page.wait_for_selector('#status-models tr[data-role="tts"]')
        screenshot(page, f"tab-{tab}")
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input, select, textarea, button')]
            .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim()))
            .map((el) => el.id || el.outerHTML)"""
    )
    assert unlabelled == []
    assert log.errors == []


def test_the_voice_list_holds_the_models_voices_and_no_openai_aliases(open_page, web_url, runtime):
    page, _ = open_page(web_url)
    _ready(page)
    names = page.eval_on_selector_all("#speech-voice option", "options => options.map(o => o.textContent)")
    assert names == [voice.capitalize() for voice in runtime.tts.voices]  # alloy, echo, ... are aliases
    assert page.eval_on_selector("#speech-voice", "select => select.selectedOptions[0].textContent") == "Tara"


def test_the_status_tab_shows_the_models_their_quantization_and_device(open_page, web_url, runtime):
    page, _ = open_page(f"{web_url}/#status")
    row = page.wait_for_selector('#status-models tr[data-role="tts"]')
    assert runtime.tts.quant in row.inner_text() and "CPU" in row.inner_text()
    assert page.inner_text("#status-state") == "ready"
    assert page.inner_text("#status-active") == "0"


def test_on_a_phone_screen_nothing_overflows_sideways(open_page, web_url):
    page, log = open_page(web_url, viewport=PHONE, is_mobile=True, has_touch=True)
    _ready(page)
    for tab in TABS:
        page.click(f"#tab-{tab}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), tab
        screenshot(page, f"phone-{tab}")
    assert log.errors == []


def test_the_keyboard_alone_switches_tabs_and_speaks(open_page, web_url):
    page, _ = open_page(web_url)
    _ready(page)
    page.focus("#tab-speech")
    page.keyboard.press("ArrowRight")
    assert page.is_visible("#panel-chat") and page.evaluate("document.activeElement.id") == "tab-chat"
    page.keyboard.press("ArrowLeft")
    page.focus("#speech-text")
    page.keyboard.press("Control+End")
    page.keyboard.type(" More.")
    for _ in range(40):  # Tab through the tag buttons, voice, speed and the fold to Speak
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "speech-speak":
            break
    page.keyboard.press("Enter")
    wait_until(page, "orpheus.player.stats().scheduled > 0")


def test_an_emotion_tag_goes_in_at_the_cursor(open_page, web_url):
    page, _ = open_page(web_url)
    _ready(page)
    page.fill("#speech-text", "Hello world")
    page.evaluate("document.getElementById('speech-text').setSelectionRange(5, 5)")
    page.click("#speech-tags button:has-text('<sigh>')")
    assert page.input_value("#speech-text") == "Hello<sigh> world"
    assert page.inner_text("#speech-count") == f"17 / {4096}"


@pytest.mark.parametrize("player", ["worklet", "buffers"])
def test_speak_plays_exactly_the_samples_the_api_returns_for_the_same_request(open_page, web_url, player):
    page, log = open_page(f"{web_url}/?player={player}" if player == "buffers" else web_url)
    _ready(page)
    _advanced(page, seed=7, **{"max-tokens": 70})
    page.click("#speech-speak")
    wait_until(page, "document.querySelector('#results li') !== null")
    wait_until(page, PLAYED_ALL)
    stats = page.evaluate("orpheus.player.stats()")
    request = page.evaluate("orpheus.lastSpeechRequest")
    assert stats["kind"] == player and request["seed"] == 7 and request["response_format"] == "pcm"
    # The same request, seeded, straight to the API: the page played every sample it returned.
    pcm = httpx.post(f"{web_url}/v1/audio/speech", json=request, timeout=60).content
    assert stats["scheduled"] == len(pcm) // 2 == 10 * SAMPLES_PER_FRAME
    assert page.inner_text("#metric-ttfa").endswith(" s") and float(page.inner_text("#metric-rtf")) > 0
    screenshot(page, f"speech-result-{player}")
    assert log.errors == []


def test_stop_ends_playback_and_frees_the_servers_slot(open_page, web_url, runtime):
    page, log = open_page(web_url)
    _ready(page)
    _advanced(page, **{"max-tokens": 700})  # 100 frames: far longer than this test waits
    page.click("#speech-speak")
    wait_until(page, "orpheus.player.stats().scheduled > 0")
    page.click("#speech-stop")
    wait_until_free(runtime)
    scheduled = page.evaluate("orpheus.player.stats().scheduled")
    assert scheduled < 100 * SAMPLES_PER_FRAME  # it was cut short, not played to the end
    page.wait_for_selector("#speech-speak:not([disabled])")
    assert page.inner_text("#metric-rtf") == "stopped"
    assert log.errors == []


def test_an_api_error_is_shown_as_its_message(open_page, web_url):
    page, _ = open_page(web_url)
    _ready(page)
    _advanced(page, temperature=5)  # the API allows 0..2
    page.click("#speech-speak")
    error = page.wait_for_selector("#speech-error:not([hidden])")
    assert error.inner_text().startswith("temperature:")


def test_results_survive_a_reload_and_play_again(open_page, web_url):
    page, _ = open_page(web_url)
    _ready(page)
    _advanced(page, seed=3, **{"max-tokens": 35})
    page.click("#speech-speak")
    wait_until(page, "document.querySelectorAll('#results li').length === 1")
    page.reload()
    _ready(page)
    page.wait_for_selector("#results li")
    assert "seed 3" in page.inner_text("#results li")
    page.click("#results li button:has-text('Play')")
    wait_until(page, PLAYED_ALL)
    assert page.evaluate("orpheus.player.stats().scheduled") == 5 * SAMPLES_PER_FRAME
    with page.expect_download() as download:
        page.click("#results li button:has-text('Download')")
    assert download.value.suggested_filename.endswith(".wav")
    wav = Path(download.value.path()).read_bytes()
    assert wav[:4] == b"RIFF" and len(wav) == 44 + 5 * SAMPLES_PER_FRAME * 2
    # Another format is made again by the server, with the result's seed and settings.
    page.select_option("#results li select", "mp3")
    with page.expect_download() as download:
        page.click("#results li button:has-text('Download')")
    assert download.value.suggested_filename.endswith(".mp3")
    mp3 = Path(download.value.path()).read_bytes()
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF


def test_a_chat_turn_shows_the_text_as_written_and_plays_its_speech(open_page, web_url):
    page, log = open_page(f"{web_url}/#chat")
    _chat_ready(page)
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/chat") else None)
    page.fill("#chat-input", "Tell me something.")
    page.keyboard.press("Enter")
    bubble = page.wait_for_selector('#chat-log li.assistant[data-state="done"]', timeout=120_000)
    assert bubble.inner_text().strip()
    wait_until(page, PLAYED_ALL, timeout_s=120)
    assert page.evaluate("orpheus.player.stats().scheduled") == page.evaluate(
        "orpheus.speechSamplesOfLastChat"
    )
    screenshot(page, "chat-turn")
    # The next turn carries the conversation so far.
    page.fill("#chat-input", "And then?")
    page.click("#chat-send")
    page.wait_for_selector("#chat-log li.assistant >> nth=1")
    assert [m["role"] for m in sent[-1]["history"]] == ["user", "assistant"]
    assert sent[-1]["history"][1]["content"] == bubble.inner_text()
    assert log.errors == []


def test_a_new_message_interrupts_the_reply_still_playing(open_page, web_url, runtime):
    page, log = open_page(f"{web_url}/#chat")
    _chat_ready(page)
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/chat") else None)
    page.fill("#chat-input", "Tell me a long story.")
    page.click("#chat-send")
    wait_until(page, "orpheus.player.stats().scheduled > 0", timeout_s=120)
    page.fill("#chat-input", "Stop, something else.")
    page.click("#chat-send")
    page.wait_for_selector('#chat-log li.assistant[data-state="interrupted"]')
    # The new reply is under way (its text arrives), the old one's speech is gone from the player.
    wait_until(
        page, "document.querySelectorAll('#chat-log li.assistant')[1]?.textContent.length > 0", timeout_s=60
    )
    assert page.locator("#chat-log li.user").count() == 2
    # What the interrupted reply had written is part of the conversation the new turn carries.
    assert [m["role"] for m in sent[-1]["history"]] == ["user", "assistant"]
    page.click("#chat-stop")
    wait_until_free(runtime)
    assert log.errors == []
