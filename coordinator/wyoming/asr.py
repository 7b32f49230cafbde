"""One Wyoming transcription connection, as Home Assistant's speech-to-text sends it:
``transcribe`` (optional language) → ``audio-start`` → ``audio-chunk``s → ``audio-stop`` →
one ``transcript``.

The audio is the microphone's PCM at its own rate, width and channels: its channels are averaged
to mono here, the server's resampler (the live voice WebSocket's) makes it 16 kHz, and it is
transcribed by the service every door shares (service/transcription.py), on a slot of the shared
``SpeechToText`` with its queue and limits, like /v1/audio/transcriptions.

Whatever a client claims, one connection costs bounded memory and time: its format is checked at
``audio-start`` and at every chunk (a rate in stt/rates.py's STREAM_RATES, so one input sample becomes
at most two at 16 kHz), the audio it holds is counted in the client's own samples before any
conversion (MAX_AUDIO_SECONDS per connection, recordings waiting for their transcript included),
one chunk is at most one event (MAX_BODY_BYTES), and a large chunk is converted off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from coordinator.errors import InvalidInputError
from coordinator.runtime.loading import Runtime
from coordinator.service import transcription
from coordinator.service.readiness import stt_of
from coordinator.stt.audio import PCM16_SCALE, PcmResampler, pcm_to_mono
from coordinator.stt.formats import language_code
from coordinator.wyoming.audio_events import audio_chunk, audio_start
from coordinator.wyoming.connection import ServerContext, WyomingConnection

logger = logging.getLogger(__name__)

SUPPORTED_EVENTS = "describe, transcribe, audio-start, audio-chunk, audio-stop, ping"
# A chunk this large or larger is converted in a worker thread, so that one event of up to
# MAX_BODY_BYTES cannot hold up the event loop (every connection, /livez). Home Assistant's chunks
# are about 2 KB: converted on the loop, they cost less than the thread hop would.
OFFLOAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class TranscriptionService:
    """What every transcription connection shares: the server, the describe answer (from the
    loaded recogniser once there is one), the longest recording (MAX_AUDIO_SECONDS)."""

    context: ServerContext
    describe: Callable[[], Event]
    max_audio_seconds: float


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

    def add(self, chunk: AudioChunk) -> None:
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


class TranscriptionHandler(WyomingConnection[Recording]):
    """Speech to text: audio events in, one transcript out per audio-start … audio-stop."""

    def __init__(
        self, service: TranscriptionService, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(service.context, service.describe, reader, writer)
        self._service = service
        self._language: str | None = None  # from the last transcribe: None detects it
        self._recording: Recording | None = None
        self._budget = AudioBudget(service.max_audio_seconds)

    async def _accept(self, event: Event) -> None:
        if Transcribe.is_type(event.type):
            language = event.data.get("language")
            if language is not None and not isinstance(language, str):
                raise InvalidInputError(
                    "transcribe: language must be a string such as 'en'", param="language"
                )
            self._language = language_code(language)
        elif AudioStart.is_type(event.type):
            if self._recording is not None:
                raise InvalidInputError("audio-start inside audio: end it with audio-stop first")
            start = _start(event)
            self._recording = Recording(self._language, start.rate, self._budget)
        elif AudioChunk.is_type(event.type):
            if self._recording is None:
                raise InvalidInputError("audio-chunk outside audio: send audio-start first")
            chunk = _chunk(event)
            if len(chunk.audio) >= OFFLOAD_BYTES:
                await asyncio.to_thread(self._recording.add, chunk)
            else:
                self._recording.add(chunk)
        elif AudioStop.is_type(event.type):
            if self._recording is None:
                raise InvalidInputError("audio-stop outside audio: send audio-start first")
            self._queue(self._recording)
            self._recording = None
        else:
            raise InvalidInputError(f"unsupported event {event.type!r}: this port handles {SUPPORTED_EVENTS}")

    async def _serve(self, runtime: Runtime, job: Recording) -> None:
        try:
            await self._transcribe(runtime, job)
        finally:
            self._budget.give_back(job.seconds)

    async def _transcribe(self, runtime: Runtime, job: Recording) -> None:
        stt = stt_of(runtime)
        transcription.check_language(stt, job.language)
        samples = await asyncio.to_thread(job.take_samples)  # up to MAX_AUDIO_SECONDS: off the loop
        self._busy = True
        try:
            heard = await transcription.transcribe_samples(stt, samples, language=job.language)
            # Nothing said has no language: the event then carries none.
            await self.write_event(Transcript(text=heard.text, language=heard.language or None).event())
        finally:
            self._busy = False


def _start(event: Event) -> AudioStart:
    return audio_start(event)


def _chunk(event: Event) -> AudioChunk:
    return audio_chunk(event)
