"""The sentence pipeline: text arriving in pieces (a chat reply as it is written, a client's
streamed text) → complete sentences → utterances, each added to the look-ahead (and so generated)
as soon as its sentence is complete, while earlier ones play. ``TextFeed``: a client's streamed
text, fed by its door as the pieces arrive. ``Reading``: the spoken form of such a text (a chat
reply's markdown made for the ear, then numbers, dates, symbols … read out: coordinator/normalize),
made before the sentence splitter and the per-utterance length cap, so that neither cuts or caps
real speech; every utterance keeps the map back to the characters written."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from coordinator.engine.sampling import SamplingParams
from coordinator.errors import InvalidInputError
from coordinator.normalize.api import spoken_form
from coordinator.normalize.markdown import ChatMarkdown
from coordinator.normalize.spans import Spoken, compose, pieces
from coordinator.service.limits import RequestLimits
from coordinator.text.sentences import SentenceBuffer, utterances
from coordinator.tts.lookahead import Lookahead
from coordinator.tts.synthesis import OrpheusTTS, SpokenVoice

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


class Reading:
    """How a text is read aloud in ``language``: ``normalize`` (else as written), and for a chat
    model's reply ``markdown`` made for the ear first. For a streamed text ``feed`` each piece and
    ``finish``; each returns the sentences now complete, each a ``Spoken`` whose text is what the
    voice says and whose spans point into the whole text written so far."""

    def __init__(self, language: str, *, normalize: bool = True, markdown: bool = False) -> None:
        self.language = language
        self._normalize = normalize
        self._markdown = ChatMarkdown(language) if normalize and markdown else None
        self._buffer = SentenceBuffer(language)
        self._written = ""  # what came in
        self._readable = ""  # what the sentence splitter was given (markdown made for the ear)
        self._cursor = 0  # in _readable: the sentences before it are out

    def whole(self, text: str) -> Spoken:
        """A whole text's spoken form (its sentences are cut from it afterwards)."""
        return spoken_form(text, self.language) if self._normalize else Spoken.verbatim(text)

    def utterances(self, sentence: Spoken) -> list[Spoken]:
        """``sentence`` (or a whole text) cut into the utterances Orpheus speaks well."""
        return pieces(sentence, utterances(sentence.text, language=self.language))

    def feed(self, text: str) -> list[Spoken]:
        self._written += text
        readable = self._markdown.feed(text) if self._markdown is not None else text
        self._readable += readable
        return self._spoken(self._buffer.feed(readable))

    def finish(self) -> list[Spoken]:
        readable = self._markdown.finish() if self._markdown is not None else ""
        self._readable += readable
        return self._spoken([*self._buffer.feed(readable), *self._buffer.flush()])

    def _spoken(self, sentences: list[str]) -> list[Spoken]:
        if not sentences:
            return []
        read = self._markdown.spoken() if self._markdown is not None else Spoken.verbatim(self._written)
        spoken = []
        for sentence in sentences:
            # The splitter strips its sentences; each is found after the one before it.
            start = self._readable.find(sentence, self._cursor)
            start = self._cursor if start == -1 else start
            self._cursor = start + len(sentence)
            spoken.append(compose(read, self.whole(sentence), start))
        return spoken


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
        voice: SpokenVoice,
        params: SamplingParams,
        *,
        limits: RequestLimits | None = None,
        normalize: bool = True,
        markdown: bool = False,
    ) -> None:
        self._texts = texts
        self._lookahead = lookahead
        self._tts = tts
        self._voice = voice
        self._language = tts.language_of(voice)  # sentences end where the voice's language ends them
        self._params = params
        self._limits = limits
        self._reading = Reading(self._language, normalize=normalize, markdown=markdown)
        self._chars = 0
        self.truncated = False
        self.spoken: list[Spoken] = []  # each utterance's spoken text and its map to the original

    async def run(self) -> None:
        """Read to the end of the text (or of what will be spoken); a failure (the text's, or a
        refusal of its first utterance) is the listener's to hear, after what came before it."""
        try:
            async for text in self._texts:
                self._count(text)
                for sentence in self._reading.feed(text):
                    self._speak(sentence)
                if self.truncated:
                    break
            else:
                for sentence in self._reading.finish():
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

    def _speak(self, sentence: Spoken) -> None:
        parts = self._reading.utterances(sentence)
        limit = self._tts.max_utterances
        for index, piece in enumerate(parts):
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
                self._tts.utterance_request(piece.text, self._voice, self._params),
                text=piece.text,
                ends_group=index == len(parts) - 1,
            )
            self.spoken.append(piece)


async def _close(items: AsyncIterator[str]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        await aclose()
