"""Whether the server is draining before it stops, and how many requests are in flight.

On SIGTERM the server drains: every door refuses new work (the HTTP door with a 503, the
WebSockets and Wyoming with an error event) while what is in flight runs to its end; once none
is left, or the grace has passed, what remains is aborted. The doors consult this one state; how
each door refuses, and the signal handling of the HTTP server, live in the doors
(``server/lifecycle.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from coordinator.clock import MONOTONIC, Clock, wait_first
from coordinator.errors import ShuttingDownError
from coordinator.service.readiness import SHUTTING_DOWN_MESSAGE

_T = TypeVar("_T")

logger = logging.getLogger(__name__)

# After the abort, how long the aborted streams get to send their last event and close.
ABORT_SETTLE_S = 2.0


class IdleTimeout(Exception):
    """Nothing arrived within a session's idle timeout (its door says what that closes)."""


class Lifecycle:
    """Whether the server is draining, and how many requests are in flight. Event loop only."""

    def __init__(self, on_abort: Callable[[], None] = lambda: None, *, clock: Clock = MONOTONIC) -> None:
        self.draining = False
        self._in_flight = 0
        # Drains waiting for the count to reach zero (futures of whatever loop each waits on).
        self._idle_waiters: set[asyncio.Future[None]] = set()
        self.on_abort = on_abort
        self.clock = clock
        # Why the server can never become ready (its models failed to load), once it is known.
        self.failure: str | None = None
        self._drain_started = asyncio.Event()

    def fail(self, reason: str) -> None:
        """Give up: the models cannot load. ``serve`` then exits non-zero rather than stay up
        unready, so Docker's restart policy or Kubernetes restarts it (with their own backoff:
        a hub outage is retried, a resumable download goes on where it stopped)."""
        self.failure = reason

    @property
    def in_flight(self) -> int:
        """Requests, streams and Wyoming jobs being served (the doors count them in and out)."""
        return self._in_flight

    @in_flight.setter
    def in_flight(self, count: int) -> None:
        self._in_flight = count
        if not count:
            for waiter in self._idle_waiters:
                if not waiter.done():
                    waiter.set_result(None)

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """One piece of work in flight while the block runs (a drain lets it finish); refused with
        ShuttingDownError once the server is draining."""
        if self.draining:
            raise ShuttingDownError(SHUTTING_DOWN_MESSAGE)
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    def start_draining(self) -> None:
        self.draining = True
        self._drain_started.set()

    async def until_draining(self) -> None:
        """Return once the drain has started (for sessions idle by nature, which must not hold it)."""
        await self._drain_started.wait()

    async def arrival(self, incoming: Awaitable[_T], timeout_s: float, *, clock: Clock | None = None) -> _T:
        """What a session waiting for its client receives next, unless the drain starts first
        (ShuttingDownError: a session idle by nature must not hold the drain) or nothing arrives
        for ``timeout_s`` on ``clock`` (default: this lifecycle's) (IdleTimeout: it would hold a
        session slot for nothing). ``incoming`` is cancelled if it did not finish. Every door's
        idle wait is this one: the voice and speech WebSockets."""
        received = asyncio.ensure_future(incoming)
        drain = asyncio.ensure_future(self.until_draining())
        try:
            done = await wait_first(clock or self.clock, {received, drain}, timeout_s)
        finally:
            drain.cancel()
            if not received.done():
                received.cancel()
        if received in done:
            return received.result()
        if drain in done:
            raise ShuttingDownError(SHUTTING_DOWN_MESSAGE)
        raise IdleTimeout(f"nothing arrived for {timeout_s:g} s")

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no request is in flight (True) or ``timeout_s`` has passed (False)."""
        deadline = self.clock.now() + timeout_s
        # A loop, not one wait: the count may rise again between the moment it reached zero and
        # the moment this task runs.
        while self.in_flight and (remaining := deadline - self.clock.now()) > 0:
            idle: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._idle_waiters.add(idle)
            try:
                await wait_first(self.clock, {idle}, remaining)
            finally:
                self._idle_waiters.discard(idle)
                idle.cancel()
        return not self.in_flight

    async def drain(self, grace_s: float) -> None:
        """Let what is in flight finish within ``grace_s``, then abort the rest."""
        self.start_draining()
        logger.info("draining: refusing new requests, %d in flight", self.in_flight)
        if await self.wait_idle(grace_s):
            logger.info("drained: every request in flight finished")
            return
        logger.warning(
            "SHUTDOWN_GRACE_S=%g s passed with %d request(s) in flight: aborting them",
            grace_s,
            self.in_flight,
        )
        try:
            self.on_abort()
        except Exception:
            logger.exception("aborting the requests in flight failed")
        await self.wait_idle(ABORT_SETTLE_S)
