"""One Wyoming transcription connection, as Home Assistant's speech-to-text sends it:
``transcribe`` (optional language) → ``audio-start`` → ``audio-chunk``s → ``audio-stop`` →
one ``transcript``.

The audio is the microphone's PCM at its own rate, width and channels: it is gathered into a
recording (service/recording.py: averaged to mono, resampled to 16 kHz) and transcribed by the
service every door shares (service/transcription.py), on a slot of the shared ``SpeechToText``
with its queue and limits, like /v1/audio/transcriptions.

Whatever a client claims, one connection costs bounded memory and time: its format is checked at
``audio-start`` and at every chunk (audio_events.py), the audio it holds is counted against its
budget before any conversion (MAX_AUDIO_SECONDS per connection, recordings waiting for their
transcript included), one chunk is at most one event (MAX_BODY_BYTES), and a large chunk is
converted off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from coordinator.errors import InvalidInputError
from coordinator.runtime.loading import Runtime
from coordinator.service import transcription
from coordinator.service.readiness import stt_of
from coordinator.service.recording import AudioBudget, Recording
from coordinator.stt.formats import language_code
from coordinator.wyoming.audio_events import audio_chunk, audio_start
from coordinator.wyoming.connection import WyomingConnection
from coordinator.wyoming.context import ServerContext

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
            self._jobs.put(self._recording)
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
