"""The "Your voices" tab in headless Chromium, on a real uvicorn whose runtime loads the tiny cloning
model beside English (ORPHEUS_MODELS=en,pretrained) and keeps its voices in a temporary VOICES_DIR.

Two ways in: a file uploaded through the file input, and a recording from the microphone, which
is Chromium's fake capture device playing espeak-ng's speech (`--use-file-for-fake-audio-capture`).
Each voice is created over the page's POST /v1/audio/voices, appears in the list and in the
Speech and Chat voice pickers, says the sample sentence (the tiny random model's noise: the words
are meaningless, the path is real) and is deleted. The recordings are short (a few seconds): the
random SNAC's encoder takes seconds per second of audio on a shared CPU."""

from __future__ import annotations

import pytest

from coordinator.config.settings import Settings
from coordinator.runtime.loading import load_runtime
from coordinator.server.app import create_app
from tests.rig.audio_samples import encode
from tests.server.conftest import serving
from tests.server.web.conftest import CHROMIUM, CHROMIUM_ARGS, PAGE_TIMEOUT_MS, PageLog, screenshot
from tests.voices.rig import FOX, WEATHER, sentences

pytestmark = pytest.mark.browser

# Creating a voice prepares, (maybe) transcribes and encodes the recording on the shared CPU.
CREATE_TIMEOUT_MS = 180_000
# Long enough for 3 s of speech once trimmed (the fake device loops its file), short for the encoder.
RECORD_MS = 4500
TRANSCRIPT = f"{FOX} {WEATHER}"


@pytest.fixture(scope="module")
def cloning_url(model_env, pretrained_gguf, tmp_path_factory):
    env = {
        **model_env,
        "ORPHEUS_MODELS": "en,pretrained",
        "ORPHEUS_MODEL_PATHS": f"pretrained={pretrained_gguf}",
        "MEMORY_BUDGET_GB": "1000",
        "VOICE_REFERENCE_MAX_S": "10",
        "VOICES_DIR": str(tmp_path_factory.mktemp("voices")),
    }
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})
    runtime = load_runtime(settings)
    try:
        with serving(create_app(settings, runtime=runtime)) as url:
            yield url
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A few seconds of one speaker (espeak-ng), as a wav file."""
    wav = tmp_path_factory.mktemp("sample") / "sample.wav"
    wav.write_bytes(encode(*sentences(FOX, WEATHER), "wav"))
    return wav


@pytest.fixture(scope="module")
def microphone_browser(playwright_driver, recording):
    fake_microphone = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={recording}",
    ]
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + fake_microphone
    )
    yield browser
    browser.close()


@pytest.fixture
def voices_page(microphone_browser, cloning_url):
    context = microphone_browser.new_context(permissions=["microphone"])
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.on("dialog", lambda dialog: dialog.accept())  # "Delete the voice ...?"
    log = PageLog(page)
    page.goto(f"{cloning_url}/#voices")
    page.wait_for_selector('#server-state[data-state="ready"]')
    yield page, log
    context.close()


def _picker_names(page, select: str) -> list[str]:
    return page.eval_on_selector_all(f"{select} option", "options => options.map(o => o.textContent)")


def _create(page, name: str) -> str:
    """Name it, create it, wait for it in the list; the new voice's id."""
    page.fill("#voice-name", name)
    page.fill("#voice-transcript", TRANSCRIPT)
    page.click("#voice-create:not([disabled])")
    page.wait_for_selector("#voice-progress:not([hidden])")
    item = page.wait_for_selector(f'#voice-list li:has-text("{name}")', timeout=CREATE_TIMEOUT_MS)
    page.wait_for_selector("#voice-progress", state="hidden")
    return item.get_attribute("data-voice")


def _hear_and_delete(page, log, voice_id: str, name: str, shot: str) -> None:
    # The new voice is in both pickers, grouped apart from the built-in ones.
    assert name in _picker_names(page, "#speech-voice") and name in _picker_names(page, "#chat-voice")
    group = page.eval_on_selector(
        f'#speech-voice option[value="{voice_id}"]', "option => option.parentElement.label"
    )
    assert group == "Your voices"
    item = f'#voice-list li[data-voice="{voice_id}"]'
    page.click(f"{item} button.play")
    page.wait_for_selector(f'{item}[data-state="spoken"]', timeout=CREATE_TIMEOUT_MS)
    assert page.eval_on_selector(f"{item} audio", "audio => audio.src.startsWith('blob:')")
    screenshot(page, shot)
    page.click(f"{item} button.delete")
    page.wait_for_selector(item, state="detached")
    assert name not in _picker_names(page, "#speech-voice")
    assert page.is_visible("#voice-list-empty")
    assert page.is_hidden("#voice-error")
    assert log.errors == []


def test_an_uploaded_recording_becomes_a_voice_to_pick_hear_and_delete(voices_page, recording):
    page, log = voices_page
    assert page.is_visible("#voice-list-empty")
    page.set_input_files("#voice-file", str(recording))
    page.wait_for_selector('#voice-sample:has-text("sample.wav")')
    voice_id = _create(page, "Uploaded Fox")
    assert voice_id.startswith("voice_")
    _hear_and_delete(page, log, voice_id, "Uploaded Fox", "voices-upload")


def test_a_recording_from_the_microphone_becomes_a_voice(voices_page):
    page, log = voices_page
    page.click("#voice-record:not([disabled])")
    page.wait_for_selector('#voice-record[aria-pressed="true"]')
    page.wait_for_timeout(RECORD_MS)
    page.click("#voice-record")
    page.wait_for_selector('#voice-sample:has-text("recorded")')
    voice_id = _create(page, "Microphone Fox")
    _hear_and_delete(page, log, voice_id, "Microphone Fox", "voices-microphone")


def test_a_refused_recording_shows_the_servers_reason_and_keeps_the_form(voices_page, tmp_path):
    page, log = voices_page
    not_audio = tmp_path / "notes.wav"
    not_audio.write_bytes(b"these are words, not a recording " * 64)
    page.set_input_files("#voice-file", str(not_audio))
    page.fill("#voice-name", "Nobody")
    page.click("#voice-create:not([disabled])")
    error = page.wait_for_selector("#voice-error:not([hidden])", timeout=CREATE_TIMEOUT_MS)
    assert "audio" in error.inner_text().lower()
    assert page.input_value("#voice-name") == "Nobody"  # nothing to type again
    assert page.is_visible("#voice-list-empty")
    # The failed request is the page's only console error (the browser logs the 400).
    assert all("400" in message for message in log.errors)
