"""Record the timing tests' speech: every word of WORD_SENTENCES spoken alone by espeak-ng (so a
test can join them with known gaps and know each word's true start and end), and the whole
sentences of CHECKED (audio that says another text than its utterance's, or the same), into
tests/timing/speech/. The tests replay these files; only this script needs espeak-ng:

    python -m tests.timing.make_word_fixtures
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from coordinator.normalize.api import spoken_form
from tests.rig.make_speech_fixtures import record

logger = logging.getLogger(__name__)

SPEECH_DIR = Path(__file__).resolve().parent / "speech"
MANIFEST = SPEECH_DIR / "manifest.json"
REGENERATE = "python -m tests.timing.make_word_fixtures"
VOICE = "en"
# Utterances spoken word by word (in their spoken form: "10:30" is "ten thirty").
WORD_SENTENCES = (
    "Turn on the kitchen lights, please.",
    "What is the weather like today?",
    "The meeting starts at 10:30 tomorrow.",
    "Please call my sister after dinner.",
    "We bought 3 apples and 2 oranges.",
)
# Whole sentences: (the utterance's text, what the audio says).
CHECKED = (
    ("Turn on the kitchen lights, please.", "Turn on the lights, please."),  # a word skipped
    ("What is the weather like today?", "What is the weather weather weather like today?"),  # repeated
    (
        "Please call my sister after dinner.",
        "Please call my older sister right after dinner tonight.",
    ),  # added
    ("We bought 3 apples and 2 oranges.", "The cat sat on the mat all afternoon."),  # another text
    ("Turn on the kitchen lights, please.", "Turn on the kitchen lights, please."),
    ("The meeting starts at 10:30 tomorrow.", "The meeting starts at 10:30 tomorrow."),
    ("Please call my sister after dinner.", "Please call my sister after dinner."),
    ("We bought 3 apples and 2 oranges.", "We bought 3 apples and 2 oranges."),
)


def words_of(text: str) -> list[str]:
    """The words espeak-ng says one by one for ``text``: its spoken form's words."""
    return re.findall(r"[a-z']+", spoken_form(text, VOICE).text.lower())


def recorded_words() -> list[str]:
    return sorted({word for text in WORD_SENTENCES for word in words_of(text)})


def recorded_sentences() -> list[str]:
    return sorted({said for _, said in CHECKED})


def main() -> None:
    record([*recorded_words(), *recorded_sentences()], SPEECH_DIR, regenerate=REGENERATE, voice=VOICE)


if __name__ == "__main__":
    main()
