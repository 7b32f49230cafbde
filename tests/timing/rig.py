"""The timing tests' audio: recorded espeak-ng words joined with known gaps (so each word's true
start and end is known to the sample), and recorded sentences, resampled to Whisper's 16 kHz."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import numpy as np
import pytest
import soundfile as sf

from tests.timing.make_word_fixtures import MANIFEST, REGENERATE, SPEECH_DIR, words_of

WHISPER_RATE = 16_000
# A sample is speech when louder than this share of the word's peak (espeak-ng pads each word
# with near-silence; its quietest consonants stay above it).
SPEECH_SHARE = 0.02
# Pauses between words, cycled: a speaker's gaps are not all alike.
GAPS_S = (0.15, 0.3, 0.2, 0.45)
LEAD_S = 0.3  # silence before the first word


@dataclass(frozen=True)
class TrueWord:
    word: str
    start: float
    end: float


@functools.cache
def _files() -> dict[str, str]:
    return {entry["text"]: entry["file"] for entry in json.loads(MANIFEST.read_text())["sentences"]}


def recorded(text: str) -> np.ndarray:
    """A recording at 16 kHz float32 mono."""
    name = _files().get(text)
    if name is None:
        pytest.fail(
            f"no recording of {text!r}: add it to tests/timing/make_word_fixtures.py and run {REGENERATE}"
        )
    samples, rate = sf.read(SPEECH_DIR / name, dtype="float32")
    return resampled(samples.reshape(-1), rate)


def resampled(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == WHISPER_RATE:
        return samples
    times = np.arange(int(samples.size * WHISPER_RATE / rate)) / WHISPER_RATE
    return np.interp(times, np.arange(samples.size) / rate, samples).astype(np.float32)


def _trimmed(samples: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > SPEECH_SHARE * np.abs(samples).max())
    return samples[loud[0] : loud[-1] + 1]


def word_by_word(text: str) -> tuple[np.ndarray, list[TrueWord]]:
    """``text``'s spoken words said one by one with GAPS_S between them: the audio and where each
    word truly starts and ends (seconds)."""
    pieces = [np.zeros(int(LEAD_S * WHISPER_RATE), np.float32)]
    truth, cursor = [], LEAD_S
    for index, word in enumerate(words_of(text)):
        said = _trimmed(recorded(word))
        truth.append(TrueWord(word, cursor, cursor + said.size / WHISPER_RATE))
        gap = GAPS_S[index % len(GAPS_S)]
        pieces += [said, np.zeros(int(gap * WHISPER_RATE), np.float32)]
        cursor += (said.size + int(gap * WHISPER_RATE)) / WHISPER_RATE
    return np.concatenate(pieces), truth
