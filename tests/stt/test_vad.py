"""Turn detection: the state machine on chosen probabilities, and Silero on espeak-ng speech."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.stt.audio import decode_audio
from coordinator.stt.vad import WINDOW_S, WINDOW_SAMPLES, SileroVad, TurnConfig, TurnDetector
from tests.rig.audio_samples import encode, noise_bursts, silence, spoken

RATE = 16_000


class Scripted:
    """Speech probabilities read from the audio itself: a window's mean value (tests write 0 or 1)."""

    def __call__(self, windows):
        return windows[:, -WINDOW_SAMPLES:].mean(axis=1)


def _windows(*runs: tuple[float, float]) -> np.ndarray:
    return np.concatenate(
        [np.full(round(seconds / WINDOW_S) * WINDOW_SAMPLES, value, np.float32) for value, seconds in runs]
    )


def test_a_turn_starts_after_min_speech_and_ends_after_end_silence():
    detector = TurnDetector(Scripted(), TurnConfig(min_speech_s=0.1, end_silence_s=0.5, pre_roll_s=0.1))
    events = detector.feed(_windows((0, 1.0), (1, 1.0), (0, 1.0)))
    assert [e.kind for e in events] == ["started", "ended"]
    audio = events[1].audio
    # The speech, the pre-roll before it, and the silence that ended it.
    assert 1.0 + 0.5 <= audio.size / RATE <= 1.0 + 0.1 + 0.5 + 0.2
    assert not detector.speaking


def test_a_click_shorter_than_min_speech_is_not_a_turn_and_a_pause_does_not_end_one():
    detector = TurnDetector(Scripted(), TurnConfig(min_speech_s=0.25, end_silence_s=0.7))
    assert detector.feed(_windows((0, 0.5), (1, 0.1), (0, 0.5))) == []
    events = detector.feed(_windows((1, 0.5), (0, 0.4), (1, 0.5)))
    assert [e.kind for e in events] == ["started"] and detector.speaking


def test_chunking_does_not_change_the_events():
    audio = _windows((0, 0.5), (1, 0.8), (0, 1.0), (1, 0.6), (0, 1.0))
    whole = [
        (e.kind, None if e.audio is None else e.audio.size) for e in TurnDetector(Scripted()).feed(audio)
    ]
    chunked_detector = TurnDetector(Scripted())
    chunked = []
    for start in range(0, audio.size, 700):
        chunked += [
            (e.kind, None if e.audio is None else e.audio.size)
            for e in chunked_detector.feed(audio[start : start + 700])
        ]
    assert whole == chunked and len(whole) == 4


def test_a_monologue_is_cut_at_max_turn_and_end_turn_ends_one_at_once():
    detector = TurnDetector(Scripted(), TurnConfig(max_turn_s=1.0))
    events = detector.feed(_windows((1, 1.5)))
    # Cut at 1 s; the speech going on is the next turn.
    assert [e.kind for e in events] == ["started", "ended", "started"]
    assert events[1].audio.size / RATE == pytest.approx(1.0, abs=WINDOW_S)
    assert detector.speaking
    ended = detector.end_turn()
    assert ended is not None and ended.kind == "ended" and not detector.speaking
    assert detector.end_turn() is None


@pytest.fixture(scope="module")
def sentence():
    samples, rate = spoken("Hello there. How are you today?")
    return decode_audio(encode(samples, rate, "wav"), max_seconds=60)


def test_silero_finds_one_turn_in_spoken_sentences_between_silences(sentence):
    detector = TurnDetector(SileroVad())
    events = detector.feed(np.concatenate([silence(1.0, RATE), sentence, silence(1.5, RATE)]))
    assert [e.kind for e in events] == ["started", "ended"]
    assert events[1].audio.size >= sentence.size * 0.8


def test_silero_hears_no_turn_in_noise_bursts_or_silence():
    detector = TurnDetector(SileroVad())
    assert detector.feed(np.concatenate([noise_bursts(RATE, bursts=5), silence(1.0, RATE)])) == []
