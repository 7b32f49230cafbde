"""The Wyoming TCP listener, run inside ``serve``'s event loop next to the HTTP server.

The ``wyoming`` package frames the events and runs each connection (``AsyncEventHandler``); the
listener itself is asyncio's, so that it can report the port it bound and, on shutdown, close
every connection and wait for it (the package's ``AsyncTcpServer`` does neither). Which
listeners the settings open, and with what, is ``ports.py``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from wyoming.server import AsyncEventHandler

from coordinator.errors import ConfigError, CoordinatorError
from coordinator.service.connections import ClientSlots
from coordinator.wyoming.refusal import refuse

if TYPE_CHECKING:
    from coordinator.wyoming.zeroconf import Announcer

logger = logging.getLogger(__name__)

# On shutdown, how long the connections get to end after they were told to stop.
STOP_TIMEOUT_S = 5.0


HandlerFactory = Callable[[asyncio.StreamReader, asyncio.StreamWriter], AsyncEventHandler]


class WyomingServer:
    """Accepts Wyoming connections, one handler (``handler_factory``'s) each."""

    def __init__(
        self,
        handler_factory: HandlerFactory,
        host: str,
        port: int,
        *,
        announcer: Announcer | None = None,
        name: str = "speech",
        slots: ClientSlots | None = None,
    ) -> None:
        """``slots``: the connections allowed at once (in total and per client address); None:
        no limit."""
        self._handler_factory = handler_factory
        self.name = name
        self.host = host
        self.port = port
        self._announcer = announcer
        self._slots = slots
        self._server: asyncio.Server | None = None
        self._handlers: dict[asyncio.Task[None], AsyncEventHandler] = {}

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._connected, host=self.host, port=self.port)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen for Wyoming on {self.host}:{self.port}: {exc.strerror or exc}: "
                "choose another WYOMING_PORT or stop what uses it",
                param="wyoming_port",
            ) from None
        sockets = self._server.sockets
        if sockets and self.port == 0:
            self.port = sockets[0].getsockname()[1]
        logger.info("Wyoming (Home Assistant) %s on tcp://%s:%d", self.name, self.host, self.port)
        if self._announcer is not None:
            await self._announcer.register(self.port)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # asyncio sets TCP_NODELAY on its TCP transports: each event leaves as soon as it is written.
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else None
        with contextlib.ExitStack() as slot:
            if self._slots is not None:
                try:
                    slot.enter_context(self._slots.held(client))
                except CoordinatorError as exc:
                    logger.info("wyoming %s: connection from %s refused: %s", self.name, client, exc.code)
                    await refuse(reader, writer, exc)
                    return
            await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = self._handler_factory(reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._handlers[task] = handler
        try:
            await handler.run()
        except Exception:
            logger.exception("wyoming: connection failed")
        finally:
            self._handlers.pop(task, None)

    @property
    def connections(self) -> int:
        return len(self._handlers)

    async def stop(self) -> None:
        """Stop listening, end every connection (their speech stops), and wait for them."""
        if self._announcer is not None:
            await self._announcer.unregister()
        if self._server is not None:
            self._server.close()
        for handler in list(self._handlers.values()):
            await handler.stop()
        tasks = list(self._handlers)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
            for task in pending:
                task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
