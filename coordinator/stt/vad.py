"""Voice activity detection on streamed 16 kHz audio: where a speaker's turn starts and ends.

The speech probability of each 32 ms window comes from Silero VAD, the ONNX model faster-whisper
ships inside its package (nothing to download). ``TurnDetector`` is the pure state machine on top:
it takes probabilities from any ``SpeechProbability`` and decides, with hysteresis and minimum
durations, when a turn started (barge-in fires here) and when it ended (then it is transcribed).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from coordinator.stt.transcript import SAMPLE_RATE

WINDOW_SAMPLES = 512  # 32 ms at 16 kHz: the window Silero VAD v5/v6 scores
CONTEXT_SAMPLES = 64  # of the previous window, which Silero reads before each window
SILERO_STATE_SHAPE = (1, 1, 128)
WINDOW_S = WINDOW_SAMPLES / SAMPLE_RATE


class SpeechProbability(Protocol):
    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """``windows``: (n, CONTEXT_SAMPLES + WINDOW_SAMPLES) float32 → (n,) speech probabilities."""
        ...


class SileroVad:
    """faster-whisper's bundled Silero VAD. Each window is scored with its 64 samples of context,
    as faster-whisper scores them, so the scores do not depend on how the audio was chunked."""

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model

        self._session = get_vad_model().session  # one ONNX session per process, thread-safe

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        state = np.zeros(SILERO_STATE_SHAPE, dtype=np.float32)
        output, _, _ = self._session.run(None, {"input": windows.astype(np.float32), "h": state, "c": state})
        return np.asarray(output, dtype=np.float32).reshape(-1)


@dataclass(frozen=True)
class TurnConfig:
    # Silero's own defaults: speech above 0.5, back to silence below 0.5 - 0.15.
    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_speech_s: float = 0.25  # a cough or a click is not a turn
    end_silence_s: float = 0.7  # a pause between sentences is not the end of the turn
    pre_roll_s: float = 0.3  # audio kept from before the start: the first syllable's onset
    max_turn_s: float = 30.0  # one Whisper window; a longer monologue is cut into turns


@dataclass(frozen=True)
class TurnEvent:
    kind: Literal["started", "ended"]
    audio: np.ndarray | None = None  # the turn's audio, on "ended"


class TurnDetector:
    """Feed 16 kHz float32 audio in any chunk sizes; get ``started`` / ``ended`` events."""

    def __init__(self, vad: SpeechProbability, config: TurnConfig | None = None) -> None:
        self._vad = vad
        self.config = config or TurnConfig()
        c = self.config
        self._min_speech = max(1, round(c.min_speech_s / WINDOW_S))
        self._end_silence = max(1, round(c.end_silence_s / WINDOW_S))
        self._max_turn = max(1, round(c.max_turn_s / WINDOW_S))
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._pre_roll: collections.deque[np.ndarray] = collections.deque(
            maxlen=max(1, round(c.pre_roll_s / WINDOW_S)) + self._min_speech
        )
        self._turn: list[np.ndarray] = []
        self._speech_run = 0
        self._silence_run = 0
        self.speaking = False

    def feed(self, samples: np.ndarray) -> list[TurnEvent]:
        audio = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        whole = audio.size // WINDOW_SAMPLES * WINDOW_SAMPLES
        self._pending = audio[whole:]
        if whole == 0:
            return []
        windows = audio[:whole].reshape(-1, WINDOW_SAMPLES)
        contexts = np.concatenate([self._context[None, :], windows[:-1, -CONTEXT_SAMPLES:]])
        self._context = windows[-1, -CONTEXT_SAMPLES:].copy()
        probabilities = self._vad(np.concatenate([contexts, windows], axis=1))
        events: list[TurnEvent] = []
        for window, probability in zip(windows, probabilities):
            event = self._step(window, float(probability))
            if event is not None:
                events.append(event)
        return events

    def _step(self, window: np.ndarray, probability: float) -> TurnEvent | None:
        c = self.config
        if not self.speaking:
            self._pre_roll.append(window)
            self._speech_run = self._speech_run + 1 if probability >= c.threshold else 0
            if self._speech_run < self._min_speech:
                return None
            self.speaking = True
            self._turn = list(self._pre_roll)
            self._pre_roll.clear()
            self._silence_run = 0
            return TurnEvent("started")
        self._turn.append(window)
        self._silence_run = self._silence_run + 1 if probability < c.neg_threshold else 0
        if self._silence_run >= self._end_silence or len(self._turn) >= self._max_turn:
            return self._end()
        return None

    def _end(self) -> TurnEvent:
        audio = np.concatenate(self._turn) if self._turn else np.zeros(0, dtype=np.float32)
        self._turn = []
        self._speech_run = 0
        self.speaking = False
        return TurnEvent("ended", audio)

    def end_turn(self) -> TurnEvent | None:
        """End the turn now (the client said it is done: push-to-talk released)."""
        if not self.speaking:
            return None
        return self._end()

    def turn_audio(self) -> np.ndarray:
        """The audio of the turn so far (for a partial transcript)."""
        return np.concatenate(self._turn) if self._turn else np.zeros(0, dtype=np.float32)
