"""The sentence pipeline: text arriving in pieces (a chat reply as it is written, a client's
streamed text) → complete sentences → utterances, each added to the look-ahead (and so generated)
as soon as its sentence is complete, while earlier ones play. ``TextFeed``: a client's streamed
text, fed by its door as the pieces arrive."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from coordinator.engine.sampling import SamplingParams
from coordinator.errors import InvalidInputError
from coordinator.service.limits import RequestLimits
from coordinator.text.sentences import SentenceBuffer, utterances
from coordinator.tts.lookahead import Lookahead
from coordinator.tts.synthesis import OrpheusTTS

logger = logging.getLogger(__name__)


class TextFeed:
    """A client's streamed text as its pieces arrive (Wyoming's synthesize-chunks): the door feeds
    it, ``texts()`` is what ``Speaker.speak_stream`` reads, ``finish`` ends it."""

    def __init__(self) -> None:
        self._pieces: asyncio.Queue[str | None] = asyncio.Queue()  # None: the end

    def feed(self, text: str) -> None:
        self._pieces.put_nowait(text)

    def finish(self) -> None:
        self._pieces.put_nowait(None)

    async def texts(self) -> AsyncIterator[str]:
        while (text := await self._pieces.get()) is not None:
            yield text


class SentencePipeline:
    """Reads ``texts`` into ``lookahead``; each sentence's utterances are one group.

    ``limits``: the text is the client's, held to MAX_INPUT_CHARS in all and refused past
    MAX_UTTERANCES; ``None``: a chat model's reply, whose speech is cut after MAX_UTTERANCES
    utterances (``truncated``), the rest of it no longer read.
    """

    def __init__(
        self,
        texts: AsyncIterator[str],
        lookahead: Lookahead,
        tts: OrpheusTTS,
        voice: str,
        params: SamplingParams,
        *,
        limits: RequestLimits | None = None,
    ) -> None:
        self._texts = texts
        self._lookahead = lookahead
        self._tts = tts
        self._voice = voice
        self._language = tts.language_of(voice)  # sentences end where the voice's language ends them
        self._params = params
        self._limits = limits
        self._chars = 0
        self.truncated = False

    async def run(self) -> None:
        """Read to the end of the text (or of what will be spoken); a failure (the text's, or a
        refusal of its first utterance) is the listener's to hear, after what came before it."""
        buffer = SentenceBuffer(self._language)
        try:
            async for text in self._texts:
                self._count(text)
                for sentence in buffer.feed(text):
                    self._speak(sentence)
                if self.truncated:
                    break
            else:
                for sentence in buffer.flush():
                    self._speak(sentence)
        except Exception as exc:
            self._lookahead.fail(exc)
            return
        finally:
            # Stops whatever writes the text (a chat reply's generation) if it is still running:
            # cancelled, failed here, or truncated (nobody would hear the rest).
            await _close(self._texts)
        self._lookahead.end()

    def _count(self, text: str) -> None:
        if self._limits is not None:
            self._chars += len(text)
            self._limits.check_streamed(self._chars, param="text")

    def _speak(self, sentence: str) -> None:
        pieces = utterances(sentence, language=self._language)
        limit = self._tts.max_utterances
        for index, piece in enumerate(pieces):
            if self._lookahead.known >= limit:
                if self._limits is not None:
                    # Bounds one stream's work as a whole text's is bounded (OrpheusTTS.speak).
                    raise InvalidInputError(
                        f"the streamed text is spoken in more than {limit} utterances, over this "
                        "server's limit (MAX_UTTERANCES): send it as several streams",
                        param="text",
                    )
                if not self.truncated:
                    logger.warning(
                        "the reply needs more than %d utterances (MAX_UTTERANCES): the rest is not spoken",
                        limit,
                    )
                self.truncated = True
                return
            self._lookahead.add(
                self._tts.utterance_request(piece, self._voice, self._params),
                text=piece,
                ends_group=index == len(pieces) - 1,
            )


async def _close(items: AsyncIterator[str]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        await aclose()
