"""The consumer side of one generating sequence: tokens out of the worker thread, cancel in.

The worker thread pushes events; a consumer reads them either blocking (CLI, decoder threads) or
with ``await`` (the event loop). Async delivery goes through ``loop.call_soon_threadsafe`` so the
loop never blocks and no thread sits parked per request.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

FinishReason = Literal["stop", "length", "cancelled", "error"]


@dataclass(frozen=True)
class StreamEvent:
    tokens: tuple[int, ...] = ()
    finish_reason: FinishReason | None = None
    error: BaseException | None = None


@dataclass
class Batch:
    """Tokens that arrived since the last read, and whether the sequence is over."""

    tokens: list[int]
    finished: bool


class GenerationStream:
    """One sequence's output. Iterate with ``next_batch()`` / ``await anext_batch()``."""

    def __init__(
        self, prompt_tokens: int, on_cancel: Callable[[], None], loop: asyncio.AbstractEventLoop | None
    ) -> None:
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0
        self.finish_reason: FinishReason | None = None
        self._on_cancel = on_cancel
        self._cancelled = threading.Event()
        self._loop = loop
        self._sync: queue.SimpleQueue[StreamEvent] = queue.SimpleQueue()
        self._async: asyncio.Queue[StreamEvent] | None = asyncio.Queue() if loop is not None else None
        self._done = False

    # -- worker side -----------------------------------------------------------------------
    def _push(self, event: StreamEvent) -> None:
        if self._loop is not None and self._async is not None:
            try:
                self._loop.call_soon_threadsafe(self._async.put_nowait, event)
            except RuntimeError:  # the consumer's loop is closed: nobody is listening any more
                self._cancelled.set()
        else:
            self._sync.put(event)

    @property
    def cancel_requested(self) -> bool:
        return self._cancelled.is_set()

    # -- consumer side ---------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop generating; the engine frees the sequence's KV cells at its next step."""
        if not self._cancelled.is_set():
            self._cancelled.set()
            self._on_cancel()

    def next_batch(self, timeout: float | None = None) -> Batch:
        """Block until something arrives; return everything that has arrived."""
        if self._done:
            return Batch([], True)
        events = [self._sync.get(timeout=timeout)]
        while True:
            try:
                events.append(self._sync.get_nowait())
            except queue.Empty:
                break
        return self._collect(events)

    async def anext_batch(self) -> Batch:
        if self._done:
            return Batch([], True)
        assert self._async is not None, "stream was submitted without an event loop"
        events = [await self._async.get()]
        while not self._async.empty():
            events.append(self._async.get_nowait())
        return self._collect(events)

    def _collect(self, events: list[StreamEvent]) -> Batch:
        tokens: list[int] = []
        for event in events:
            tokens.extend(event.tokens)
            if event.error is not None:
                self._done = True
                raise event.error
            if event.finish_reason is not None:
                self._done = True
                self.finish_reason = event.finish_reason
        self.completion_tokens += len(tokens)
        return Batch(tokens, self._done)


class OnGeneration:
    """Base of the streams built on one generation (speech, text): token counts and cancel."""

    def __init__(self, generation: GenerationStream) -> None:
        self._generation = generation

    @property
    def prompt_tokens(self) -> int:
        return self._generation.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self._generation.completion_tokens

    def cancel(self) -> None:
        self._generation.cancel()
