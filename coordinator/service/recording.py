"""A raw stream's recording as its chunks arrive (Wyoming's speech-to-text today): the client's
PCM at its own rate, width and channels, averaged to mono, resampled to 16 kHz by the server's
resampler (the live voice WebSocket's), and held as 16-bit samples until it is transcribed
(``transcription.transcribe_samples``).

Whatever a client claims, a connection's recordings cost bounded memory: the audio it holds is
counted in the client's own samples before any conversion (``AudioBudget``: MAX_AUDIO_SECONDS per
connection, recordings waiting for their transcript included). The door checks each chunk's
format first (a rate in stt/rates.py's STREAM_RATES, so one input sample becomes at most two at
16 kHz).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from coordinator.errors import InvalidInputError
from coordinator.stt.audio import PCM16_SCALE, PcmResampler, pcm_to_mono


class PcmChunk(Protocol):
    """One chunk of a client's audio as a door parsed it (Wyoming's ``AudioChunk`` is one)."""

    audio: bytes
    rate: int  # samples per second
    width: int  # bytes per sample
    channels: int


@dataclass
class AudioBudget:
    """The audio one connection may hold at once (MAX_AUDIO_SECONDS), counted in the client's own
    samples as chunks arrive, before any conversion; given back once a recording is transcribed."""

    max_seconds: float
    held: float = 0.0  # seconds

    def take(self, frames: int, rate: int) -> float:
        seconds = frames / rate
        if self.held + seconds > self.max_seconds:
            raise InvalidInputError(
                f"the audio is longer than this server's limit of {self.max_seconds:g} s (MAX_AUDIO_SECONDS, "
                "per connection, recordings waiting for their transcript included): send shorter "
                "recordings",
                param="audio",
            )
        self.held += seconds
        return seconds

    def give_back(self, seconds: float) -> None:
        self.held = max(0.0, self.held - seconds)


@dataclass
class Recording:
    """One utterance as it arrives: averaged to mono, resampled to 16 kHz, kept as 16-bit samples
    (half the memory of float)."""

    language: str | None
    rate: int
    budget: AudioBudget
    seconds: float = 0.0  # taken from the budget
    _resampler: PcmResampler = field(init=False)
    _pieces: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._resampler = PcmResampler(self.rate)

    def add(self, chunk: PcmChunk) -> None:
        if chunk.rate != self.rate:
            raise InvalidInputError(
                f"audio-chunk at {chunk.rate} Hz inside audio started at {self.rate} Hz: keep one rate "
                "per audio-start",
                param="audio",
            )
        frames = len(chunk.audio) // (chunk.width * chunk.channels)
        self.seconds += self.budget.take(frames, self.rate)
        resampled = self._resampler.process(pcm_to_mono(chunk.audio, chunk.width, chunk.channels))
        if resampled.size:
            scaled = np.clip(np.rint(resampled * PCM16_SCALE), -PCM16_SCALE, PCM16_SCALE - 1)
            self._pieces.append(scaled.astype(np.int16))

    def take_samples(self) -> np.ndarray:
        """The recording as the recogniser takes it, 16 kHz float32; once: the 16-bit pieces are
        freed, so a recording waiting for a slot is held once, not twice."""
        pieces, self._pieces = self._pieces, []
        if not pieces:
            return np.zeros(0, np.float32)
        return np.concatenate(pieces).astype(np.float32) / np.float32(PCM16_SCALE)
