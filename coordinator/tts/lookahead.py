"""The one look-ahead scheduler: utterances played in order as one stream, each generated while
the one before it plays.

Every way speech is spoken goes through it: a text cut into a fixed list of utterances
(``OrpheusTTS.speak``), and sentences arriving over time (a chat reply as it is written, a
streamed text), with or without audible group boundaries (Wyoming's one audio group per sentence).
The rules, the same for all:

- utterance ``i + 1`` is submitted as soon as it is known and utterance ``i`` has started
  playing: one generated ahead, so the next is ready at the join and one response does not take
  every engine slot;
- the first is submitted as soon as it is known (for a fixed list: when the scheduler is made),
  so it alone may be refused for a full queue, before any response has started; the later ones
  continue a response already speaking and are never refused for a full queue;
- every frame of every utterance is played, in order (no frame lost at a join);
- closing the iterator (the listener left) cancels every generation, started or not.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Final

import numpy as np

from coordinator.audio.decode_scheduler import DecodeScheduler
from coordinator.engine.batch_engine import GenerationRequest

if TYPE_CHECKING:  # synthesis.py makes these schedulers: imported there at run time
    from coordinator.tts.synthesis import OrpheusTTS, SpeechStream


class GroupEnd:
    """Marks where a group of utterances (one Wyoming sentence) has been played to its end."""

    def __repr__(self) -> str:
        return "GROUP_END"


GROUP_END: Final = GroupEnd()


class Lookahead:
    """Utterances (requests validated by ``OrpheusTTS.utterance_request``) played as one stream.

    ``requests``: known at once (a fixed list; the first is submitted now). More may be
    ``add``-ed while it plays; ``end`` says no more will come, ``fail`` that the text feeding it
    failed (raised once everything known before was played). Without ``add`` the list is complete.
    """

    def __init__(
        self,
        tts: OrpheusTTS,
        loop: asyncio.AbstractEventLoop,
        requests: Sequence[GenerationRequest] = (),
        *,
        texts: Sequence[str] = (),
        continuation: bool = False,
        complete: bool = True,
    ) -> None:
        self._tts = tts
        self._loop = loop
        self._continuation = continuation  # even the first continues a response already speaking
        self._requests: list[GenerationRequest] = []
        self.texts: list[str] = []  # what each utterance says
        self.streams: list[SpeechStream] = []  # the utterances submitted, in order
        self.retakes: list[SpeechStream] = []  # utterances generated again (``retake``)
        self._group_ends: set[int] = set()
        self._playing = -1  # the utterance being played
        self._complete = False
        self._closed = False  # the listener has gone: nothing more is submitted
        self._failure: BaseException | None = None
        self._changed = asyncio.Event()
        for index, request in enumerate(requests):
            self.add(request, text=texts[index] if index < len(texts) else "")
        self._complete = complete

    @property
    def prompt_tokens(self) -> int:
        return sum(stream.prompt_tokens for stream in self.streams)

    @property
    def completion_tokens(self) -> int:
        return sum(stream.completion_tokens for stream in self.streams)

    @property
    def length_capped(self) -> int:
        """Utterances cut at their length cap so far."""
        return sum(stream.stats.length_capped for stream in self.streams)

    @property
    def playing(self) -> int:
        """The utterance being played (-1 before the first)."""
        return self._playing

    def retake(self, index: int, seed: int | None) -> SpeechStream:
        """Utterance ``index`` generated again with ``seed`` (None: an unseeded draw), beside the
        others and never refused (a continuation); the caller plays it or not. Closed with them."""
        request = self._requests[index]
        again = dataclasses.replace(request, params=dataclasses.replace(request.params, seed=seed))
        stream = self._tts.start(again, loop=self._loop, continuation=True)
        self.retakes.append(stream)
        return stream

    @property
    def known(self) -> int:
        """Utterances known so far (submitted or waiting for their turn)."""
        return len(self._requests)

    def add(self, request: GenerationRequest, *, text: str = "", ends_group: bool = False) -> None:
        """One more utterance, after the others; submitted now if it is due. A refusal (only the
        first may be refused, for a full queue) leaves it out and is raised here."""
        self._requests.append(request)
        try:
            self._submit_due()
        except BaseException:
            self._requests.pop()
            raise
        self.texts.append(text)
        if ends_group:
            self._group_ends.add(len(self._requests) - 1)
        self._changed.set()

    def end(self) -> None:
        """No more utterances will be added."""
        self._complete = True
        self._changed.set()

    def fail(self, error: BaseException) -> None:
        """What fed the utterances failed: raised to the listener after what is known is played."""
        self._failure = error
        self._complete = True
        self._changed.set()

    def _submit_due(self) -> None:
        # The first when known; each later one once the one before it has started playing.
        while (
            not self._closed
            and len(self.streams) < len(self._requests)
            and len(self.streams) <= self._playing + 1
        ):
            index = len(self.streams)
            self.streams.append(
                self._tts.start(
                    self._requests[index],
                    loop=self._loop,
                    continuation=self._continuation or index > 0,
                )
            )

    async def aiter_chunks(self, snac: DecodeScheduler) -> AsyncIterator[np.ndarray]:
        """The audio, utterance after utterance (float32, 24 kHz mono)."""
        async for item in self.aiter_groups(snac):
            if isinstance(item, np.ndarray):
                yield item

    async def aiter_groups(self, snac: DecodeScheduler) -> AsyncIterator[np.ndarray | GroupEnd]:
        """The audio, with ``GROUP_END`` after each group's last utterance."""
        try:
            index = 0
            while True:
                while index >= len(self._requests) and not self._complete:
                    self._changed.clear()
                    await self._changed.wait()
                if index >= len(self._requests):
                    if self._failure is not None:
                        raise self._failure
                    if index > 0 and index - 1 not in self._group_ends:
                        yield GROUP_END  # the end of the speech ends its last group
                    return
                self._playing = index
                self._submit_due()  # the next one is generated while this one plays
                async for chunk in self.streams[index].aiter_chunks(snac):
                    yield chunk
                if index in self._group_ends:
                    yield GROUP_END
                index += 1
        finally:
            self.close()

    def close(self) -> None:
        """Stop: nothing more is submitted, and every generation still running is cancelled.
        Synchronous, so that it also runs where a listener gone has cancelled the scope."""
        self._complete = self._closed = True
        for stream in [*self.streams, *self.retakes]:
            stream.cancel()  # a no-op for the finished ones
