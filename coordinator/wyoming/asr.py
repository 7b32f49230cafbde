"""One Wyoming transcription connection, as Home Assistant's speech-to-text sends it:
``transcribe`` (optional language) → ``audio-start`` → ``audio-chunk``s → ``audio-stop`` →
one ``transcript``.

The audio is the microphone's PCM at its own rate, width and channels: the ``wyoming`` package's
converter makes it 16-bit mono, the server's resampler (the live voice WebSocket's) makes it
16 kHz, and it is transcribed the server's one way, on a slot of the shared ``SpeechToText``
with its queue and limits, like /v1/audio/transcriptions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Info

from coordinator import __version__
from coordinator.config import ModelCatalog, Settings, stt_variant
from coordinator.errors import InvalidInputError
from coordinator.runtime import Runtime, stt_model_id
from coordinator.server.deps import stt_of
from coordinator.stt.audio import PcmResampler, pcm16_to_float
from coordinator.stt.engine import ENGLISH
from coordinator.stt.formats import LANGUAGE_NAMES, language_code
from coordinator.wyoming.connection import ServerContext, WyomingConnection
from coordinator.wyoming.info import PROGRAM_NAME

logger = logging.getLogger(__name__)

SUPPORTED_EVENTS = "describe, transcribe, audio-start, audio-chunk, audio-stop, ping"
PCM_WIDTH = 2  # what the converter makes of any width: 16-bit, as the recogniser reads it
MAX_WIDTH = 4
MAX_CHANNELS = 8
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
class Recording:
    """One utterance as it arrives: converted to 16-bit mono, resampled to 16 kHz."""

    language: str | None
    rate: int
    max_seconds: float
    _converter: AudioChunkConverter = field(init=False)
    _resampler: PcmResampler = field(init=False)
    _pieces: list[np.ndarray] = field(default_factory=list)
    _received: int = 0  # samples at the client's rate

    def __post_init__(self) -> None:
        self._converter = AudioChunkConverter(width=PCM_WIDTH, channels=1)
        self._resampler = PcmResampler(self.rate)

    def add(self, chunk: AudioChunk) -> None:
        if chunk.rate != self.rate:
            raise InvalidInputError(
                f"audio-chunk at {chunk.rate} Hz inside audio started at {self.rate} Hz: keep one rate "
                "per audio-start",
                param="audio",
            )
        mono = self._converter.convert(chunk).audio
        samples = pcm16_to_float(mono)
        self._received += samples.size
        if self._received > self.max_seconds * self.rate:
            raise InvalidInputError(
                f"the audio is longer than this server's limit of {self.max_seconds:g} s "
                "(MAX_AUDIO_SECONDS): send shorter recordings",
                param="audio",
            )
        resampled = self._resampler.process(samples)
        if resampled.size:
            self._pieces.append(resampled)

    def samples(self) -> np.ndarray:
        return np.concatenate(self._pieces) if self._pieces else np.zeros(0, np.float32)


class TranscriptionHandler(WyomingConnection[Recording]):
    """Speech to text: audio events in, one transcript out per audio-start … audio-stop."""

    def __init__(
        self, service: TranscriptionService, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(service.context, service.describe, reader, writer)
        self._service = service
        self._language: str | None = None  # from the last transcribe: None detects it
        self._recording: Recording | None = None

    def _accept(self, event: Event) -> None:
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
            self._recording = Recording(self._language, start.rate, self._service.max_audio_seconds)
        elif AudioChunk.is_type(event.type):
            if self._recording is None:
                raise InvalidInputError("audio-chunk outside audio: send audio-start first")
            self._recording.add(_chunk(event))
        elif AudioStop.is_type(event.type):
            if self._recording is None:
                raise InvalidInputError("audio-stop outside audio: send audio-start first")
            self._queue(self._recording)
            self._recording = None
        else:
            raise InvalidInputError(f"unsupported event {event.type!r}: this port handles {SUPPORTED_EVENTS}")

    async def _serve(self, runtime: Runtime, job: Recording) -> None:
        stt = stt_of(runtime)
        stt.transcriber.check(language=job.language, task="transcribe")
        samples = job.samples()
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
    for name, value, most in (
        ("rate", parsed.rate, None),
        ("width", parsed.width, MAX_WIDTH),
        ("channels", parsed.channels, MAX_CHANNELS),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1 or (most and value > most):
            raise InvalidInputError(f"{event.type}: {name}={value!r} is not a valid {name}", param="audio")


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
