"""One Wyoming speech connection: one-shot ``synthesize``, and streamed synthesis
(``synthesize-start`` → ``synthesize-chunk``s → ``synthesize-stop``) as Home Assistant 2025.7+ sends it.

Speech goes the server's one way: ``OrpheusTTS.speak`` → ``aiter_chunks`` on the shared SNAC
scheduler, with the engine's slots, queue and the request limits of the HTTP API. The connection
machinery (events read while it speaks, idle timeout, refusals) is ``connection.py``'s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from coordinator.audio.encoders import PcmEncoder
from coordinator.engine.sampling import SamplingParams
from coordinator.errors import InvalidInputError
from coordinator.runtime.loading import Runtime
from coordinator.service.limits import RequestLimits, speech_max_tokens
from coordinator.service.metrics import Metrics
from coordinator.text.sentences import DEFAULT_LANGUAGE, SentenceBuffer
from coordinator.tts.synthesis import Utterances
from coordinator.wyoming.connection import ServerContext, WyomingConnection
from coordinator.wyoming.info import VoiceEntry

logger = logging.getLogger(__name__)

PCM_WIDTH = 2  # bytes per sample: 16-bit, as the HTTP API's pcm
PCM_CHANNELS = 1
SUPPORTED_EVENTS = "describe, synthesize, synthesize-start, synthesize-chunk, synthesize-stop, ping"


@dataclass(frozen=True)
class SpeechService:
    """What every speech connection shares: the server (models, drain), the describe answer, the
    voices, the HTTP API's limits and metrics, the seed."""

    context: ServerContext
    info: Event
    voices: Sequence[VoiceEntry]
    limits: RequestLimits
    metrics: Metrics
    seed: int | None = None

    def voice(self, name: str | None, language: str | None) -> str:
        """The voice a request names, else the first voice speaking its language, else the default
        (the first listed)."""
        if name is not None:
            if not isinstance(name, str) or name not in {v.name for v in self.voices}:
                raise InvalidInputError(
                    f"unknown voice {name!r}: choose one of {', '.join(v.name for v in self.voices)}",
                    param="voice",
                )
            return name
        if language is not None:
            wanted = _primary_language(str(language))
            for entry in self.voices:
                if wanted in {_primary_language(lang) for lang in entry.languages}:
                    return entry.name
            spoken = sorted({lang for v in self.voices for lang in v.languages})
            raise InvalidInputError(
                f"no voice here speaks {language!r}: this server speaks {', '.join(spoken)}",
                param="voice",
            )
        return self.voices[0].name

    def language_of(self, name: str) -> str:
        entry = next((v for v in self.voices if v.name == name), None)
        return entry.languages[0] if entry is not None and entry.languages else DEFAULT_LANGUAGE


def _primary_language(tag: str) -> str:
    """'en-US', 'en_US', 'EN' → 'en': Home Assistant sends either form."""
    return tag.replace("_", "-").split("-", 1)[0].lower()


@dataclass
class OneShot:
    """A ``synthesize`` outside a stream: the whole text, one audio-start … audio-stop."""

    text: str
    voice: str


@dataclass
class TextStream:
    """A streamed text, cut into sentences as its chunks arrive; ``None`` ends it."""

    voice: str
    max_chars: int
    language: str = DEFAULT_LANGUAGE  # the voice's: sentences end where that language ends them
    sentences: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    _buffer: SentenceBuffer = field(init=False)
    _chars: int = 0

    def __post_init__(self) -> None:
        self._buffer = SentenceBuffer(self.language)

    def feed(self, text: str) -> None:
        # The same bound as one request's text: a stream is one reply.
        self._chars += len(text)
        if self._chars > self.max_chars:
            raise InvalidInputError(
                f"the streamed text is over this server's limit of {self.max_chars} characters "
                "(MAX_INPUT_CHARS): send a longer text as several streams",
                param="text",
            )
        for sentence in self._buffer.feed(text):
            self.sentences.put_nowait(sentence)

    def finish(self) -> None:
        for sentence in self._buffer.flush():
            self.sentences.put_nowait(sentence)
        self.sentences.put_nowait(None)


Job = OneShot | TextStream


class SpeechHandler(WyomingConnection[Job]):
    """Speech: text events in, audio out, one request after another."""

    def __init__(
        self, service: SpeechService, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(service.context, lambda: service.info, reader, writer)
        self._service = service
        self._stream: TextStream | None = None  # the stream whose chunks are arriving

    async def _accept(self, event: Event) -> None:
        if Synthesize.is_type(event.type):
            if self._stream is not None:
                # Inside a stream Home Assistant also sends the whole text, for servers that do
                # not stream; it is already being spoken chunk by chunk.
                logger.debug("wyoming: ignored the compatibility synthesize inside a stream")
                return
            text, voice = _text(event), self._voice(event)
            self._service.limits.check_text(text, param="text")
            self._queue(OneShot(text, voice))
        elif SynthesizeStart.is_type(event.type):
            if self._stream is not None:
                raise InvalidInputError("synthesize-start inside a stream: end it with synthesize-stop first")
            voice = self._voice(event)
            stream = TextStream(
                voice, self._service.limits.max_input_chars, language=self._service.language_of(voice)
            )
            self._queue(stream)
            self._stream = stream
        elif SynthesizeChunk.is_type(event.type):
            if self._stream is None:
                raise InvalidInputError("synthesize-chunk outside a stream: send synthesize-start first")
            self._stream.feed(_text(event))
        elif SynthesizeStop.is_type(event.type):
            if self._stream is None:
                raise InvalidInputError("synthesize-stop outside a stream: send synthesize-start first")
            self._stream.finish()
            self._stream = None
        else:
            raise InvalidInputError(f"unsupported event {event.type!r}: this port handles {SUPPORTED_EVENTS}")

    def _voice(self, event: Event) -> str:
        voice = event.data.get("voice") or {}
        if not isinstance(voice, dict):
            raise InvalidInputError(f"{event.type}: voice must be an object with a name", param="voice")
        return self._service.voice(voice.get("name"), voice.get("language"))

    async def _serve(self, runtime: Runtime, job: Job) -> None:
        params = self._params(runtime)
        if isinstance(job, OneShot):
            started = time.perf_counter()
            # The voice picks the Orpheus model (tts/registry.py), as on the HTTP API.
            resolved = runtime.resolve_voice(job.voice)
            speech = resolved.tts.speak(job.text, resolved.voice, params, loop=asyncio.get_running_loop())
            await self._play(runtime, speech, started)
        else:
            await self._speak_stream(runtime, job, params)

    def _params(self, runtime: Runtime) -> SamplingParams:
        # What the HTTP API uses for a request that sets only its seed.
        max_tokens = speech_max_tokens(None, runtime, self._service.limits)
        return replace(runtime.tts.default_params, max_tokens=max_tokens, seed=self._service.seed)

    async def _speak_stream(self, runtime: Runtime, stream: TextStream, params: SamplingParams) -> None:
        """Each sentence as its own audio-start … audio-stop group, as soon as it is complete; the
        next sentence is generated while the current one plays (one ahead, as /chat does)."""
        loop = asyncio.get_running_loop()
        sentences = 0
        resolved = runtime.resolve_voice(stream.voice)

        async def next_group() -> Utterances | None:
            nonlocal sentences
            sentence = await stream.sentences.get()
            if sentence is None:
                return None
            # Later sentences continue an answer already speaking: never refused for a full queue.
            speech = resolved.tts.speak(
                sentence, resolved.voice, params, loop=loop, continuation=sentences > 0
            )
            sentences += 1
            return speech

        current = await next_group()
        while current is not None:
            ahead = asyncio.ensure_future(next_group())
            try:
                await self._play(runtime, current, time.perf_counter())
            except BaseException:
                _discard(ahead)
                raise
            current = await ahead
        await self.write_event(SynthesizeStopped().event())

    async def _play(self, runtime: Runtime, speech: Utterances, started: float) -> None:
        """One audio-start, the PCM as it is decoded, one audio-stop. The start waits for the
        first audio, so a request that could not be served (a queue timeout) is only an error."""
        rate = runtime.tts.sample_rate
        encoder = PcmEncoder()
        audio = self._service.metrics.speech_audio(
            "wyoming", speech.aiter_chunks(runtime.snac), speech.streams, started=started
        )
        start = AudioStart(rate=rate, width=PCM_WIDTH, channels=PCM_CHANNELS).event()
        self._busy = True
        try:
            begun = False
            async for chunk in audio:
                if not begun:
                    await self.write_event(start)
                    begun = True
                await self.write_event(
                    AudioChunk(
                        audio=encoder.encode(chunk), rate=rate, width=PCM_WIDTH, channels=PCM_CHANNELS
                    ).event()
                )
            if not begun:  # no audio at all (the model ended at once): still one well-formed group
                await self.write_event(start)
            await self.write_event(AudioStop().event())
        finally:
            self._busy = False
            await audio.aclose()  # type: ignore[attr-defined]  # stops the generation if cut short


def _text(event: Event) -> str:
    text = event.data.get("text")
    if not isinstance(text, str):
        raise InvalidInputError(f'{event.type} needs its "text" as a string', param="text")
    return text


def _discard(ahead: asyncio.Future[Utterances | None]) -> None:
    """Stop a sentence generated ahead that will not be played."""
    if not ahead.done():
        ahead.cancel()
    elif not ahead.cancelled() and ahead.exception() is None and (speech := ahead.result()) is not None:
        for stream in speech.streams:
            stream.cancel()
