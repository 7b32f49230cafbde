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
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from coordinator.errors import ShuttingDownError
from coordinator.server.errors import domain_error_response, error_event, ws_close_code, ws_close_reason
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.readiness import SHUTTING_DOWN_MESSAGE

logger = logging.getLogger(__name__)

# Answered while draining: liveness (the process is up and serving HTTP) and scrapes.
OPEN_WHILE_DRAINING = frozenset({"/livez", "/metrics"})
# After the drain (service/lifecycle.py), how long uvicorn waits for connections to close before it
# cancels their tasks: a stream stuck somewhere must not hang the shutdown.
FORCE_EXIT_AFTER_S = 5


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
