"""The Wyoming TCP listener, run inside ``serve``'s event loop next to the HTTP server.

The ``wyoming`` package frames the events and runs each connection (``AsyncEventHandler``); the
listener itself is asyncio's, so that it can report the port it bound and, on shutdown, close
every connection and wait for it (the package's ``AsyncTcpServer`` does neither).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from coordinator.config import ModelCatalog, Settings
from coordinator.errors import ConfigError
from coordinator.runtime import Runtime
from coordinator.server.lifecycle import Lifecycle
from coordinator.server.limits import RequestLimits
from coordinator.server.metrics import Metrics
from coordinator.server.security import is_loopback
from coordinator.wyoming.handler import SpeechHandler, SpeechService
from coordinator.wyoming.info import speech_info, voice_entries

if TYPE_CHECKING:
    from coordinator.wyoming.zeroconf import Announcer

logger = logging.getLogger(__name__)

# On shutdown, how long the connections get to end after they were told to stop.
STOP_TIMEOUT_S = 5.0


def wyoming_host(settings: Settings) -> str:
    return settings.wyoming_host or settings.host


def check_wyoming_bind(settings: Settings) -> None:
    """The HTTP rule, for a protocol without keys: beyond loopback only when asked for explicitly.
    Home Assistant's Wyoming integration cannot send a key, so API_KEY does not protect this port."""
    host = wyoming_host(settings)
    if settings.wyoming_port is None or settings.allow_no_auth or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to listen for Wyoming on {host}: the Wyoming protocol has no authentication (API_KEY "
        "does not cover it); set WYOMING_HOST=127.0.0.1 to keep it on this machine, or ALLOW_NO_AUTH=1 "
        "to let anyone who can reach the port use it (a trusted home network)",
        param="wyoming_host",
    )


class WyomingServer:
    """Accepts Wyoming connections, one ``SpeechHandler`` each."""

    def __init__(
        self, service: SpeechService, host: str, port: int, *, announcer: Announcer | None = None
    ) -> None:
        self._service = service
        self.host = host
        self.port = port
        self._announcer = announcer
        self._server: asyncio.Server | None = None
        self._handlers: dict[asyncio.Task[None], SpeechHandler] = {}

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
        logger.info("Wyoming (Home Assistant) speech on tcp://%s:%d", self.host, self.port)
        if self._announcer is not None:
            await self._announcer.register(self.port)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # asyncio sets TCP_NODELAY on its TCP transports: each event leaves as soon as it is written.
        handler = SpeechHandler(self._service, reader, writer)
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


def wyoming_server(
    settings: Settings,
    catalog: ModelCatalog,
    *,
    runtime: Callable[[], Runtime | None],
    not_ready_reason: Callable[[], str | None],
    lifecycle: Lifecycle,
    limits: RequestLimits,
    metrics: Metrics,
) -> WyomingServer:
    """The listener ``settings`` ask for (WYOMING_PORT set), serving the server's own runtime."""
    assert settings.wyoming_port is not None
    service = SpeechService(
        runtime=runtime,
        not_ready_reason=not_ready_reason,
        info=speech_info(catalog, settings).event(),
        voices=voice_entries(catalog, settings),
        lifecycle=lifecycle,
        limits=limits,
        metrics=metrics,
        seed=settings.wyoming_seed,
        idle_timeout_s=settings.wyoming_idle_timeout_s,
        max_event_bytes=settings.max_body_bytes,
    )
    host = wyoming_host(settings)
    announcer = None
    if settings.wyoming_zeroconf:
        from coordinator.wyoming.zeroconf import Announcer  # mDNS only when asked for

        announcer = Announcer(host, settings.wyoming_zeroconf_name)
    return WyomingServer(service, host, settings.wyoming_port, announcer=announcer)
