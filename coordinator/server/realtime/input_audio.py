"""A Realtime session's input audio buffer: 24 kHz pcm16 from ``input_audio_buffer.append``,
resampled for the recogniser (16 kHz), and either cut into turns by the server VAD (the same
Silero turn detector the voice WebSocket uses) or held until the client commits it. Bounded: the
VAD ends a turn after one recogniser window, and the manual buffer refuses audio past MAX_BUFFER_S."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from coordinator.errors import InvalidInputError
from coordinator.server.realtime.config import AUDIO_RATE, VAD_HYSTERESIS, TurnDetection
from coordinator.server.realtime.items import MS_PER_S
from coordinator.stt.audio import PcmResampler, pcm16_to_float
from coordinator.stt.transcript import SAMPLE_RATE as STT_RATE
from coordinator.stt.vad import SileroVad, TurnConfig, TurnDetector, TurnEvent

# Without server VAD the buffer holds at most this much audio before a commit: one recogniser
# window, and bounded memory whatever a client appends.
MAX_BUFFER_S = 30.0
# OpenAI refuses to commit less than this much audio ("input_audio_buffer_commit_empty").
MIN_COMMIT_MS = 100
PCM16_BYTES = 2
# The server VAD hears an append this much at a time (16 kHz samples): the events' audio_*_ms
# are exact to within it.
VAD_SLICE = STT_RATE // 10


def decode_append(audio: Any) -> np.ndarray:
    """An append's audio: base64 of 16-bit little-endian mono PCM, as float32 samples."""
    if not isinstance(audio, str):
        raise InvalidInputError("audio must be a base64 string of pcm16 audio", param="audio")
    try:
        pcm = base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            "audio is not valid base64: send base64-encoded pcm16", param="audio"
        ) from None
    if len(pcm) % PCM16_BYTES:
        raise InvalidInputError("audio must be whole 16-bit samples (an even number of bytes)", param="audio")
    return pcm16_to_float(pcm)


def ms_of(samples: int) -> int:
    """Milliseconds of recogniser-rate audio."""
    return round(samples * MS_PER_S / STT_RATE)


class InputAudio:
    def __init__(self, turn: TurnDetection | None) -> None:
        self._resampler = PcmResampler(AUDIO_RATE)
        self._vad: SileroVad | None = None  # loaded once, when server VAD is first asked for
        self._detector = self._new_detector(turn)
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self.heard = 0  # samples (16 kHz) received in all: the events' audio_*_ms count from here

    @property
    def vad(self) -> bool:
        return self._detector is not None

    def detect(self, turn: TurnDetection | None) -> None:
        """New turn detection settings: what was buffered is dropped (OpenAI's does likewise)."""
        self._detector = self._new_detector(turn)
        self._buffer, self._buffered = [], 0

    def append(self, audio: Any) -> list[tuple[TurnEvent, int]]:
        """Take an append's audio; with server VAD, the turns' starts and ends it completes, each
        with its place in the session's audio (ms)."""
        samples = self._resampler.process(decode_append(audio))
        if self._detector is not None:
            return self._detect(self._detector, samples)
        if self._buffered + samples.size > MAX_BUFFER_S * STT_RATE:
            raise InvalidInputError(
                f"the input audio buffer is full ({MAX_BUFFER_S:g} s): commit or clear it",
                param="audio",
                code="input_audio_buffer_full",
            )
        self._buffer.append(samples)
        self._buffered += samples.size
        self.heard += samples.size
        return []

    def _detect(self, detector: TurnDetector, samples: np.ndarray) -> list[tuple[TurnEvent, int]]:
        # Fed a slice at a time so that each event's place is known to within a slice, however
        # much audio one append carries.
        found = []
        for start in range(0, samples.size, VAD_SLICE):
            piece = samples[start : start + VAD_SLICE]
            self.heard += piece.size
            for turn in detector.feed(piece):
                # A turn starts where its audio (the pre-roll included) begins.
                at = self.heard - (detector.turn_audio().size if turn.kind == "started" else 0)
                found.append((turn, ms_of(at)))
        return found

    def commit(self) -> np.ndarray:
        """What the buffer holds (with VAD: the turn being spoken), emptied; too little is refused."""
        if self._detector is not None:
            ended = self._detector.end_turn()
            audio = ended.audio if ended is not None and ended.audio is not None else np.zeros(0, np.float32)
        else:
            audio = np.concatenate(self._buffer) if self._buffer else np.zeros(0, np.float32)
        if ms_of(audio.size) < MIN_COMMIT_MS:
            raise InvalidInputError(
                f"Error committing input audio buffer: buffer too small. Expected at least {MIN_COMMIT_MS}ms "
                f"of audio, but buffer only has {ms_of(audio.size)}ms of audio",
                param="type",
                code="input_audio_buffer_commit_empty",
            )
        self._buffer, self._buffered = [], 0
        return audio

    def clear(self, turn: TurnDetection | None) -> None:
        self.detect(turn)

    def _new_detector(self, turn: TurnDetection | None) -> TurnDetector | None:
        if turn is None:
            return None
        config = TurnConfig(
            threshold=turn.threshold,
            neg_threshold=max(0.0, turn.threshold - VAD_HYSTERESIS),
            end_silence_s=turn.silence_duration_ms / MS_PER_S,
            pre_roll_s=turn.prefix_padding_ms / MS_PER_S,
        )
        if self._vad is None:
            self._vad = SileroVad()
        return TurnDetector(self._vad, config)
