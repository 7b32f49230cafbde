"""Stopping without cutting anyone off: on SIGTERM the server drains, then exits 0.

Draining: the port stays open, but every new request is answered 503 ``shutting_down`` (with
Retry-After and ``Connection: close``, so a client or load balancer goes elsewhere) while the
requests and streams already in flight run to their end. Once none is left, or
``SHUTDOWN_GRACE_S`` has passed, what remains is aborted (its generation ends with an error
event), uvicorn closes the connections, the lifespan frees the models, and the process exits 0.

uvicorn's own handler would close the port at once (new requests see "connection refused", not
a 503) and, since 0.29, re-raise the signal after shutting down, so the process would end
"killed by SIGTERM" (143) however cleanly it stopped. ``GracefulServer`` takes the signal itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from coordinator.clock import MONOTONIC, Clock, wait_first
from coordinator.errors import ShuttingDownError
from coordinator.server.errors import domain_error_response, error_event, ws_close_code, ws_close_reason

logger = logging.getLogger(__name__)

# Answered while draining: liveness (the process is up and serving HTTP) and scrapes.
OPEN_WHILE_DRAINING = frozenset({"/livez", "/metrics"})
# After the abort, how long the aborted streams get to send their last event and close.
ABORT_SETTLE_S = 2.0
# After that, how long uvicorn waits for connections to close before it cancels their tasks: a
# stream stuck somewhere must not hang the shutdown.
FORCE_EXIT_AFTER_S = 5
SHUTTING_DOWN_MESSAGE = "the server is shutting down: retry in a few seconds (another replica may answer)"


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

    def start_draining(self) -> None:
        self.draining = True
        self._drain_started.set()

    async def until_draining(self) -> None:
        """Return once the drain has started (for sessions idle by nature, which must not hold it)."""
        await self._drain_started.wait()

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


class DrainGate:
    """ASGI middleware: counts requests in flight, and refuses new ones while draining."""

    def __init__(self, app: ASGIApp, *, lifecycle: Lifecycle) -> None:
        self.app = app
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.lifecycle.draining and scope["path"] not in OPEN_WHILE_DRAINING:
            await _refuse(scope, receive, send)
            return
        self.lifecycle.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.lifecycle.in_flight -= 1


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    error = ShuttingDownError(SHUTTING_DOWN_MESSAGE)
    if scope["type"] == "websocket":
        websocket = WebSocket(scope, receive, send)
        with contextlib.suppress(WebSocketDisconnect):
            await websocket.accept()
            await websocket.send_json(error_event(error))
            await websocket.close(code=ws_close_code(error), reason=ws_close_reason(error))
        return
    response = domain_error_response(error)
    response.headers["Connection"] = "close"  # a kept-alive connection would come back here
    await response(scope, receive, send)


class GracefulServer(uvicorn.Server):
    """uvicorn, with SIGTERM/SIGINT starting a drain (a second signal stops at once)."""

    def __init__(self, config: uvicorn.Config, *, lifecycle: Lifecycle, grace_s: float) -> None:
        if config.timeout_graceful_shutdown is None:
            config.timeout_graceful_shutdown = FORCE_EXIT_AFTER_S
        super().__init__(config)
        self.lifecycle = lifecycle
        self.grace_s = grace_s
        self._drain_requested = False
        self._drain: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs as a signal handler: only set flags here; the next tick starts the drain. Not
        # recording the signal (as uvicorn's handler does) keeps uvicorn from re-raising it.
        if self._drain_requested:
            logger.warning("second stop signal: stopping now")
            self.should_exit = True
            self.force_exit = True
            return
        self._drain_requested = True
        self.lifecycle.draining = True

    async def on_tick(self, counter: int) -> bool:
        if self.lifecycle.failure is not None and not self.should_exit:
            logger.error("exiting: the server cannot become ready (%s)", self.lifecycle.failure)
            self.should_exit = True  # nothing is served before ready: there is nothing to drain
        if self._drain_requested and self._drain is None:
            self._drain = asyncio.get_running_loop().create_task(self._drain_then_exit())
        return await super().on_tick(counter)

    async def _drain_then_exit(self) -> None:
        await self.lifecycle.drain(self.grace_s)
        self.should_exit = True  # uvicorn closes the port and the connections, then the lifespan
