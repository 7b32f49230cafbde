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
from typing import Generic, TypeVar

from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler

from coordinator.errors import CoordinatorError
from coordinator.runtime.loading import Runtime
from coordinator.service.connections import done_before_idle
from coordinator.service.failures import stream_failure
from coordinator.service.jobs import JobQueue
from coordinator.service.readiness import ready_runtime
from coordinator.wyoming.context import ServerContext
from coordinator.wyoming.framing import read_event
from coordinator.wyoming.refusal import refuse

logger = logging.getLogger(__name__)

JobT = TypeVar("JobT")


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
        self._jobs: JobQueue[JobT] = JobQueue()  # a client piling up requests is refused
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
                    event = await self._next_event(worker)
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
            await self.disconnect()
            if self._refusal is not None:  # the error, then a close that lets the client read it
                await refuse(self.reader, self.writer, self._refusal)
            else:
                self.writer.close()

    async def _next_event(self, worker: asyncio.Task[None]) -> Event | None:
        """The next event; ``None`` at the end of the connection, once ``worker`` ended (a failed
        job), or once it was idle (nothing received, nothing being served) for the idle timeout.
        The read is never cut half way."""
        read = asyncio.ensure_future(read_event(self.reader, max_bytes=self._context.max_event_bytes))
        try:
            context = self._context
            if await done_before_idle(
                context.clock, {read, worker}, context.idle_timeout_s, lambda: self._busy
            ):
                return None if worker.done() else read.result()  # the work ended: so does the connection
            logger.info(
                "wyoming: closing a connection idle for %g s (WYOMING_IDLE_TIMEOUT_S)", context.idle_timeout_s
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

    async def _work(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await self._run(job)
            except ConnectionError:
                logger.info("wyoming: client left while being served")
                await self.stop()
                return
            except Exception as exc:  # reported once the reading side ends too (run)
                self._refusal = stream_failure(exc)
                return

    async def _run(self, job: JobT) -> None:
        runtime = ready_runtime(self._context.runtime(), self._context.not_ready_reason())
        with self._context.lifecycle.serving():  # a drain lets this finish, like an HTTP stream
            await self._serve(runtime, job)
