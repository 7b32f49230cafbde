"""Read-along in the speech playground: the text as written, the word being played lit, from
the server's speech.audio.heard events (docs/timings.md). The random Whisper of the server tests
hears nothing true, so each word's time is its share of the utterance: the plumbing is tested
(events in, words drawn in order, lit as playback passes them); what the times are worth on real
speech: tests/timing/test_real_speech.py."""

import pytest

from tests.server.web.conftest import screenshot, wait_until

pytestmark = pytest.mark.browser

TEXT = "It costs $5, my friend."
PLAYED_ALL = (
    "(() => { const s = orpheus.player.stats(); return s.scheduled > 0 && s.played === s.scheduled; })()"
)
# Every change of the lit word, recorded by the page as it happens (not polled from here).
RECORD_LIT = """
window.lit = [];
new MutationObserver(() => {
  const words = [...document.querySelectorAll('#speech-words .word')];
  const index = words.findIndex((w) => w.classList.contains('speaking'));
  if (index >= 0 && window.lit[window.lit.length - 1] !== index) window.lit.push(index);
}).observe(document.getElementById('speech-words'), { subtree: true, childList: true, attributes: true });
"""


# Playback held until the test lets it go: the words' times arrive after their utterance's audio
# (Whisper listens to it first), and on a loaded machine a short utterance could finish playing
# before they come, lighting only its last word. Held, the audio waits for the words, as a long
# utterance's later words would on a real host.
HOLD_PLAYBACK = """
window.heldContexts = [];
window.playbackReleased = false;
const Original = window.AudioContext;
window.OriginalAudioContext = Original;
window.AudioContext = class extends Original {
  constructor(...args) { super(...args); window.heldContexts.push(this); this.suspend(); }
  resume() { return window.playbackReleased ? super.resume() : Promise.resolve(); }
};
true;  // evaluate() would call a function-valued last expression (the class)
"""
RELEASE_PLAYBACK = """
window.playbackReleased = true;
Promise.all(window.heldContexts.map((c) => window.OriginalAudioContext.prototype.resume.call(c)));
"""


def test_read_along_draws_the_text_as_written_and_lights_each_word_in_turn_as_it_plays(open_page, web_url):
    page, log = open_page(web_url)
    page.wait_for_selector("#speech-speak:not([disabled])")
    page.fill("#speech-text", TEXT)
    page.check("#speech-read-along")
    page.evaluate(RECORD_LIT)
    page.evaluate(HOLD_PLAYBACK)
    page.click("#speech-speak")
    wait_until(page, "document.querySelectorAll('#speech-words .word').length === 5")
    # Held: nothing has played yet (a first word timed at 0 s may already be lit, as it should be).
    assert page.evaluate("orpheus.player.stats().played") == 0
    page.evaluate(RELEASE_PLAYBACK)
    wait_until(page, PLAYED_ALL)
    words = page.eval_on_selector_all("#speech-words .word", "els => els.map((e) => e.textContent)")
    assert words == ["It", "costs", "$5,", "my", "friend."]  # as written, not "five dollars"
    assert page.inner_text("#speech-words") == TEXT
    lit = page.evaluate("window.lit")
    assert len(lit) >= 2 and lit == sorted(lit), lit  # several words lit, in order
    request = page.evaluate("orpheus.lastSpeechRequest")
    assert "stream_format" not in request  # the kept request replays and downloads as audio
    screenshot(page, "speech-read-along")
    assert log.errors == []


def test_without_read_along_the_speech_streams_as_before_and_no_words_show(open_page, web_url):
    page, log = open_page(web_url)
    page.wait_for_selector("#speech-speak:not([disabled])")
    page.click("#speech-speak")
    wait_until(page, PLAYED_ALL)
    assert page.is_hidden("#speech-words") and log.errors == []


@pytest.fixture(scope="module")
def module_page(browser, web_url):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{web_url}/web/favicon.svg")  # same origin as the modules, no app running
    yield page
    context.close()


def test_the_word_at_a_time_is_the_last_one_started_by_then(module_page):
    found = module_page.evaluate(
        """async () => {
          const { wordAt } = await import('/web/js/read-along.js');
          const words = [{ start: 0.1 }, { start: 0.5 }, { start: 0.5 }, { start: 1.2 }];
          return [0, 0.1, 0.3, 0.5, 0.9, 1.2, 9].map((t) => wordAt(words, t)).concat(wordAt([], 1));
        }"""
    )
    assert found == [-1, 0, 0, 2, 2, 3, 3, -1]
