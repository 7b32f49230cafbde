"""One Wyoming transcription connection, as Home Assistant's speech-to-text sends it:
``transcribe`` (optional language) → ``audio-start`` → ``audio-chunk``s → ``audio-stop`` →
one ``transcript``.

The audio is the microphone's PCM at its own rate, width and channels: its channels are averaged
to mono here, the server's resampler (the live voice WebSocket's) makes it 16 kHz, and it is
transcribed the server's one way, on a slot of the shared ``SpeechToText`` with its queue and
limits, like /v1/audio/transcriptions.

Whatever a client claims, one connection costs bounded memory and time: its format is checked at
``audio-start`` and at every chunk (a rate in PcmResampler's range, so one input sample becomes at
most two at 16 kHz), the audio it holds is counted in the client's own samples before any
conversion (MAX_AUDIO_SECONDS per connection, recordings waiting for their transcript included),
one chunk is at most one event (MAX_BODY_BYTES), and a large chunk is converted off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Info

from coordinator import __version__
from coordinator.config import ModelCatalog, Settings, stt_variant
from coordinator.errors import InvalidInputError
from coordinator.runtime.loading import Runtime, stt_model_id
from coordinator.service.readiness import stt_of
from coordinator.stt.audio import PCM16_SCALE, PcmResampler, pcm_to_mono
from coordinator.stt.engine import ENGLISH
from coordinator.stt.formats import LANGUAGE_NAMES, language_code
from coordinator.wyoming.connection import ServerContext, WyomingConnection
from coordinator.wyoming.info import PROGRAM_NAME

logger = logging.getLogger(__name__)

SUPPORTED_EVENTS = "describe, transcribe, audio-start, audio-chunk, audio-stop, ping"
# Bytes per sample: signed little-endian 8-, 16-, 24- and 32-bit, as the wyoming package's own
# converter (audioop) reads them. Home Assistant sends 2.
WIDTHS = (1, 2, 3, 4)
# The most channels averaged to mono: 7.1 sound, and the raw channels of a microphone array
# (4- and 6-microphone boards).
MAX_CHANNELS = 8
# A chunk this large or larger is converted in a worker thread, so that one event of up to
# MAX_BODY_BYTES cannot hold up the event loop (every connection, /livez). Home Assistant's chunks
# are about 2 KB: converted on the loop, they cost less than the thread hop would.
OFFLOAD_BYTES = 64 * 1024
PROGRAM_DESCRIPTION = "Whisper (faster-whisper) speech recognition"
WHISPER_URL = "https://github.com/openai/whisper"


@dataclass(frozen=True)
class TranscriptionService:
    """What every transcription connection shares: the server, the describe answer (from the
    loaded recogniser once there is one), the longest recording (MAX_AUDIO_SECONDS)."""

    context: ServerContext
    describe: Callable[[], Event]
    max_audio_seconds: float


def transcription_info(model_id: str, multilingual: bool, *, provider: str, license_url: str) -> Info:
    attribution = Attribution(name=provider, url=license_url or WHISPER_URL)
    languages = sorted(LANGUAGE_NAMES) if multilingual else [ENGLISH]
    model = AsrModel(
        name=model_id,
        description=f"Whisper {model_id}",
        attribution=attribution,
        installed=True,
        version=__version__,
        languages=languages,
    )
    program = AsrProgram(
        name=f"{PROGRAM_NAME}-stt",
        description=PROGRAM_DESCRIPTION,
        attribution=attribution,
        installed=True,
        version=__version__,
        models=[model],
    )
    return Info(asr=[program])


def describe_transcription(runtime: Callable[[], Runtime | None], settings_info: Info) -> Callable[[], Event]:
    """The info event: the loaded recogniser's (it knows whether it is multilingual), else what
    the catalog says while the models load."""

    def describe() -> Event:
        loaded = runtime()
        if loaded is not None and loaded.stt is not None:
            stt = loaded.stt
            program = settings_info.asr[0]
            return transcription_info(
                stt.model_id,
                stt.transcriber.multilingual,
                provider=program.attribution.name,
                license_url=program.attribution.url,
            ).event()
        return settings_info.event()

    return describe


def catalog_transcription_info(settings: Settings, catalog: ModelCatalog) -> Info:
    """What the catalog says the configured recogniser is (before it is loaded)."""
    chosen = stt_variant(catalog, settings)
    spec = catalog.stt
    return transcription_info(
        stt_model_id(catalog, settings),
        chosen[1].multilingual if chosen is not None else True,
        provider=spec.provider if spec is not None else "OpenAI",
        license_url=spec.license_url if spec is not None else WHISPER_URL,
    )


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
        stt.transcriber.check(language=job.language, task="transcribe")
        samples = await asyncio.to_thread(job.take_samples)  # up to MAX_AUDIO_SECONDS: off the loop
        self._busy = True
        try:
            if samples.size == 0:  # nothing was said: nothing to hear, no slot taken
                await self.write_event(Transcript(text="").event())
                return
            transcript = await stt.transcribe(samples, language=job.language)
            await self.write_event(Transcript(text=transcript.text, language=transcript.language).event())
        finally:
            self._busy = False


def _checked(event: Event, parsed: AudioStart | AudioChunk) -> None:
    low, high = PcmResampler.MIN_RATE, PcmResampler.MAX_RATE
    for name, value, allowed, fix in (
        ("rate", parsed.rate, range(low, high + 1), f"send audio at {low} to {high} Hz"),
        ("width", parsed.width, WIDTHS, "send 1, 2, 3 or 4 bytes per sample (16-bit: 2)"),
        ("channels", parsed.channels, range(1, MAX_CHANNELS + 1), f"send 1 to {MAX_CHANNELS} channels"),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value not in allowed:
            raise InvalidInputError(
                f"{event.type}: {name}={value!r} is not a {name} this server takes: {fix}", param="audio"
            )


_Audio = TypeVar("_Audio", AudioStart, AudioChunk)


def _parsed(event: Event, kind: type[_Audio]) -> _Audio:
    """``event`` as ``kind``, its format checked: audio-start and audio-chunk carry the same fields."""
    try:
        parsed = kind.from_event(event)
    except KeyError:
        raise InvalidInputError(f"{event.type} needs its rate, width and channels", param="audio") from None
    _checked(event, parsed)
    return parsed


def _start(event: Event) -> AudioStart:
    return _parsed(event, AudioStart)


def _chunk(event: Event) -> AudioChunk:
    chunk = _parsed(event, AudioChunk)
    if not chunk.audio:
        raise InvalidInputError("audio-chunk without audio: send the samples as its payload", param="audio")
    if len(chunk.audio) % (chunk.width * chunk.channels):
        raise InvalidInputError(
            f"an audio-chunk of {len(chunk.audio)} bytes holds no whole number of samples of "
            f"{chunk.width} bytes x {chunk.channels} channels",
            param="audio",
        )
    return chunk
