"""What every Wyoming connection does, whatever it serves: read events while its work runs, in
order, on one worker task; answer ``describe`` and ``ping``; close when idle; end on a refusal.

Reading on while the work runs is what notices a client that left (its end of file), so that its
generation stops at once instead of running to its end; and it is what lets a streamed text be
spoken while the rest of it is still arriving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler

from coordinator.clock import MONOTONIC, Clock, wait_first
from coordinator.errors import CoordinatorError, NotReadyError, QueueFullError, ShuttingDownError
from coordinator.runtime.loading import Runtime
from coordinator.service.failures import stream_failure
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.readiness import LOADING_MESSAGE, SHUTTING_DOWN_MESSAGE
from coordinator.wyoming.framing import read_event

logger = logging.getLogger(__name__)

# Requests one connection may have waiting behind the one it is serving: Home Assistant sends
# one per connection; a client piling up more is refused rather than queued without bound.
MAX_PENDING_JOBS = 4
DEFAULT_IDLE_TIMEOUT_S = 60.0
DEFAULT_MAX_EVENT_BYTES = 1024 * 1024

JobT = TypeVar("JobT")


@dataclass(frozen=True)
class ServerContext:
    """The server around the connections: its models (through accessors: they may still be
    loading), its drain, and the connection limits."""

    runtime: Callable[[], Runtime | None]
    not_ready_reason: Callable[[], str | None]
    lifecycle: Lifecycle
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES  # MAX_BODY_BYTES: an event is a request body
    clock: Clock = MONOTONIC  # what the idle timeout is measured on


class WyomingConnection(AsyncEventHandler, Generic[JobT]):
    """Events in on the reading side (``_accept`` turns them into jobs); jobs served one after
    another by a worker task (``_serve``).

    Any error is answered with an ``error`` event and ends the connection: Home Assistant opens a
    connection per request, and a half-served one cannot be resumed anyway.
    """

    def __init__(
        self,
        context: ServerContext,
        describe: Callable[[], Event],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        super().__init__(reader, writer)
        self._context = context
        self._describe = describe  # the info event (what is loaded may refine it)
        self._jobs: asyncio.Queue[JobT] = asyncio.Queue()
        # Set by the subclass while it sends its answer (audio, a transcription): not idle then,
        # though the client sends nothing. A stream waiting for the client's text is idle.
        self._busy = False
        self._refusal: CoordinatorError | None = None

    @abstractmethod
    async def _accept(self, event: Event) -> None:
        """Take one event (queue a job, feed one); raise a CoordinatorError to refuse it."""

    @abstractmethod
    async def _serve(self, runtime: Runtime, job: JobT) -> None:
        """Do one job, writing its events."""

    async def run(self) -> None:
        self._is_running = True
        worker = asyncio.create_task(self._work(), name="wyoming worker")
        try:
            while self._is_running:
                # Whatever reading or handling an event meets is answered: a client that left ends
                # the connection quietly, and a failure the code did not foresee is logged and
                # answered with an ``internal_error`` event, as on the HTTP API, rather than a
                # silent hang-up. (A refusal of the event itself is handle_event's.)
                try:
                    event = await self._next_event()
                    if event is None or not await self.handle_event(event):
                        break
                except CoordinatorError as exc:  # a malformed or oversized event
                    logger.info("wyoming: unreadable event: %s", exc.message)
                    self._refusal = exc
                    break
                except ConnectionError:  # the client reset the connection
                    break
                except Exception as exc:
                    self._refusal = stream_failure(exc)
                    break
        finally:
            # The client left (or we end the connection): whatever it asked for stops now, and
            # before a refusal is sent, so that the error is the last event the client gets.
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            if self._refusal is not None:
                await self._report(self._refusal)
            await self.disconnect()
            self.writer.close()

    async def _next_event(self) -> Event | None:
        """The next event; ``None`` at the end of the connection, or once it was idle (nothing
        received, nothing being served) for the idle timeout. The read is never cut half way."""
        read = asyncio.ensure_future(read_event(self.reader, max_bytes=self._context.max_event_bytes))
        try:
            while True:
                done = await wait_first(self._context.clock, {read}, self._context.idle_timeout_s)
                if done:
                    return read.result()
                if not self._busy:
                    logger.info(
                        "wyoming: closing a connection idle for %g s (WYOMING_IDLE_TIMEOUT_S)",
                        self._context.idle_timeout_s,
                    )
                    return None
        finally:
            read.cancel()

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self._describe())
            return True
        if Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
            return True
        try:
            await self._accept(event)
        except CoordinatorError as exc:
            logger.info("wyoming: refused %s: %s", event.type, exc.message)
            self._refusal = exc  # answered once the connection's work has stopped (run)
            return False
        return True

    def _queue(self, job: JobT) -> None:
        if self._jobs.qsize() >= MAX_PENDING_JOBS:
            raise QueueFullError(
                f"this connection already has {MAX_PENDING_JOBS} requests waiting: wait for their "
                "answers, or open another connection"
            )
        self._jobs.put_nowait(job)

    async def _work(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await self._run(job)
            except ConnectionError:
                logger.info("wyoming: client left while being served")
                await self.stop()
                return
            except Exception as exc:
                await self._report(stream_failure(exc))
                await self.stop()
                return

    async def _run(self, job: JobT) -> None:
        runtime = self._context.runtime()
        if runtime is None:
            raise NotReadyError(self._context.not_ready_reason() or LOADING_MESSAGE)
        lifecycle = self._context.lifecycle
        if lifecycle.draining:
            raise ShuttingDownError(SHUTTING_DOWN_MESSAGE)
        lifecycle.in_flight += 1  # a drain lets this finish, like an HTTP stream
        try:
            await self._serve(runtime, job)
        finally:
            lifecycle.in_flight -= 1

    async def _report(self, error: CoordinatorError) -> None:
        with contextlib.suppress(ConnectionError):
            await self.write_event(Error(text=error.message, code=error.code).event())
