"""The voice assistant: a streamed chat reply, cut into sentences, each spoken as soon as it is
complete while the reply is still being written, heard as one continuous answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import numpy as np

from coordinator.audio.decode_scheduler import DecodeScheduler
from coordinator.engine.sampling import SamplingParams
from coordinator.text.sentences import SentenceBuffer, utterances
from coordinator.tts.synthesis import OrpheusTTS, SpeechStream

logger = logging.getLogger(__name__)

# Utterances generated ahead of the one playing: enough that the next is ready at the join,
# few enough that one chatty reply does not take every engine slot.
PREFETCH_UTTERANCES = 1


class SpokenReply:
    """Turns text deltas into audio chunks; records what was spoken."""

    def __init__(
        self,
        tts: OrpheusTTS,
        voice: str,
        params: SamplingParams | None,
        *,
        loop: asyncio.AbstractEventLoop,
        snac: DecodeScheduler,
    ) -> None:
        self._tts = tts
        self._voice = voice
        self._language = tts.language_of(voice)  # the reply is cut where its language ends sentences
        self._params = params
        self._loop = loop
        self._snac = snac
        self.utterances: list[str] = []
        self.streams: list[SpeechStream] = []
        # Set when the reply needed more than tts.max_utterances: the rest is not spoken.
        self.truncated = False

    async def audio(self, deltas: AsyncIterator[str]) -> AsyncIterator[np.ndarray]:
        queue: asyncio.Queue[SpeechStream | None] = asyncio.Queue(maxsize=PREFETCH_UTTERANCES)

        async def produce() -> None:
            buffer = SentenceBuffer(self._language)
            try:
                async for delta in deltas:
                    for sentence in buffer.feed(delta):
                        await self._speak(queue, sentence)
                    if self.truncated:
                        break
                else:
                    for sentence in buffer.flush():
                        await self._speak(queue, sentence)
            except Exception:
                # The end marker tells the consumer to collect the failure; not on cancellation,
                # when nobody reads the queue any more (a put there would wait forever).
                await queue.put(None)
                raise
            finally:
                # Stops the reply's generation if it is still running: cancelled, failed here,
                # or truncated (nobody will hear the rest).
                await _close(deltas)
            await queue.put(None)

        producer = asyncio.create_task(produce(), name="spoken-reply-text")
        try:
            while (speech := await queue.get()) is not None:
                async for chunk in speech.aiter_chunks(self._snac):
                    yield chunk
            await producer  # re-raise what went wrong on the text side, if anything
        finally:
            # Only synchronous cleanup here: when the client is gone this runs inside a cancelled
            # scope, where any await would be cancelled again. The producer ends on its own
            # at its next await, closing the text generation.
            producer.cancel()
            if producer.done() and not producer.cancelled():
                producer.exception()  # raised above, or superseded by what ended this stream
            for stream in self.streams:
                stream.cancel()

    async def _speak(self, queue: asyncio.Queue[SpeechStream | None], sentence: str) -> None:
        for piece in utterances(sentence, language=self._language):
            if len(self.streams) >= self._tts.max_utterances:
                if not self.truncated:
                    logger.warning(
                        "the reply needs more than %d utterances (MAX_UTTERANCES): the rest is not spoken",
                        self._tts.max_utterances,
                    )
                self.truncated = True
                return
            # Generation starts now, before the queue has room: it runs while earlier audio plays.
            # Only the first utterance may be refused for a full engine: it is submitted before
            # the response starts, so the refusal is still a clean 429.
            speech = self._tts.start(
                self._tts.utterance_request(piece, self._voice, self._params),
                loop=self._loop,
                continuation=bool(self.streams),
            )
            self.utterances.append(piece)
            self.streams.append(speech)
            await queue.put(speech)


async def _close(items: AsyncIterator[str]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        await aclose()
