"""One Wyoming speech connection: one-shot ``synthesize``, and streamed synthesis
(``synthesize-start`` → ``synthesize-chunk``s → ``synthesize-stop``) as Home Assistant 2025.7+ sends it.

Speech goes the server's one way, the speaking service (service/speech.py), with the engine's
slots, queue, the request limits and caps of the HTTP API. The connection machinery (events read
while it speaks, idle timeout, refusals) is ``connection.py``'s.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from coordinator.audio.encoders import PcmEncoder
from coordinator.errors import InvalidInputError
from coordinator.runtime.loading import Runtime
from coordinator.service.sentences import TextFeed
from coordinator.service.speech import GroupEnd, Sampling, Speaker, Speech
from coordinator.wyoming.connection import WyomingConnection
from coordinator.wyoming.speaking import SpeechPort

logger = logging.getLogger(__name__)

PCM_WIDTH = 2  # bytes per sample: 16-bit, as the HTTP API's pcm
PCM_CHANNELS = 1
SUPPORTED_EVENTS = "describe, synthesize, synthesize-start, synthesize-chunk, synthesize-stop, ping"


@dataclass
class OneShot:
    """A ``synthesize`` outside a stream: the whole text, one audio-start … audio-stop."""

    text: str
    voice: str


@dataclass
class TextStream:
    """A streamed text (synthesize-start … synthesize-stop): its voice, and its text as the
    chunks arrive. The service cuts it into sentences (and holds it to MAX_INPUT_CHARS)."""

    voice: str
    text: TextFeed = field(default_factory=TextFeed)


Job = OneShot | TextStream


class SpeechHandler(WyomingConnection[Job]):
    """Speech: text events in, audio out, one request after another."""

    def __init__(
        self, service: SpeechPort, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(service.context, service.describe, reader, writer)
        self._service = service
        self._stream: TextStream | None = None  # the stream whose chunks are arriving

    async def _accept(self, event: Event) -> None:
        if Synthesize.is_type(event.type):
            if self._stream is not None:
                # Inside a stream Home Assistant also sends the whole text, for servers that do
                # not stream; it is already being spoken chunk by chunk.
                logger.debug("wyoming: ignored the compatibility synthesize inside a stream")
                return
            self._jobs.put(OneShot(_text(event), self._voice(event)))
        elif SynthesizeStart.is_type(event.type):
            if self._stream is not None:
                raise InvalidInputError("synthesize-start inside a stream: end it with synthesize-stop first")
            stream = TextStream(self._voice(event))
            self._jobs.put(stream)
            self._stream = stream
        elif SynthesizeChunk.is_type(event.type):
            if self._stream is None:
                raise InvalidInputError("synthesize-chunk outside a stream: send synthesize-start first")
            self._stream.text.feed(_text(event))
        elif SynthesizeStop.is_type(event.type):
            if self._stream is None:
                raise InvalidInputError("synthesize-stop outside a stream: send synthesize-start first")
            self._stream.text.finish()
            self._stream = None
        else:
            raise InvalidInputError(f"unsupported event {event.type!r}: this port handles {SUPPORTED_EVENTS}")

    def _voice(self, event: Event) -> str:
        voice = event.data.get("voice") or {}
        if not isinstance(voice, dict):
            raise InvalidInputError(f"{event.type}: voice must be an object with a name", param="voice")
        return self._service.voice(voice.get("name"), voice.get("language"))

    async def _serve(self, runtime: Runtime, job: Job) -> None:
        service = self._service
        speaker = Speaker(runtime, service.limits, service.metrics)
        sampling = Sampling(seed=service.seed)  # as the HTTP API's request that sets only its seed
        if isinstance(job, OneShot):
            speech = speaker.speak(job.text, job.voice, door="wyoming", sampling=sampling, param="text")
        else:
            # Each sentence as its own audio group, as soon as it is complete.
            speech = speaker.speak_stream(
                job.text.texts(), job.voice, door="wyoming", sampling=sampling, client_text=True
            )
        # A stream waiting for its text is idle (connection.py closes it after the idle timeout).
        await self._play(speech, busy=isinstance(job, OneShot))
        if isinstance(job, TextStream):
            await self.write_event(SynthesizeStopped().event())

    async def _play(self, speech: Speech, *, busy: bool) -> None:
        """Each group: one audio-start, the PCM as it is decoded, one audio-stop. The start waits
        for the first audio, so a request that could not be served (a queue timeout) is only an
        error. Busy while a group is being spoken; a stream waiting for its text is idle."""
        rate = speech.sample_rate
        encoder = PcmEncoder()
        start = AudioStart(rate=rate, width=PCM_WIDTH, channels=PCM_CHANNELS).event()
        groups = speech.groups()
        self._busy = busy
        try:
            begun = False
            async for item in groups:
                if isinstance(item, GroupEnd):
                    if not begun:  # no audio at all (the model ended at once): still one group
                        await self.write_event(start)
                    await self.write_event(AudioStop().event())
                    begun = self._busy = False
                    continue
                self._busy = True
                if not begun:
                    await self.write_event(start)
                    begun = True
                await self.write_event(
                    AudioChunk(
                        audio=encoder.encode(item), rate=rate, width=PCM_WIDTH, channels=PCM_CHANNELS
                    ).event()
                )
        finally:
            self._busy = False
            await groups.aclose()  # type: ignore[attr-defined]  # stops the generation if cut short


def _text(event: Event) -> str:
    text = event.data.get("text")
    if not isinstance(text, str):
        raise InvalidInputError(f'{event.type} needs its "text" as a string', param="text")
    return text
