"""The Wyoming TCP listener, run inside ``serve``'s event loop next to the HTTP server.

The ``wyoming`` package frames the events and runs each connection (``AsyncEventHandler``); the
listener itself is asyncio's, so that it can report the port it bound and, on shutdown, close
every connection and wait for it (the package's ``AsyncTcpServer`` does neither).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from wyoming.error import Error
from wyoming.event import async_write_event
from wyoming.server import AsyncEventHandler

from coordinator.config.catalog import ModelCatalog
from coordinator.config.settings import Settings
from coordinator.errors import ConfigError, CoordinatorError
from coordinator.runtime.loading import Runtime
from coordinator.service.connections import ClientSlots, is_loopback
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.wyoming.context import ServerContext
from coordinator.wyoming.handler import SpeechHandler
from coordinator.wyoming.info import speech_info, voice_entries
from coordinator.wyoming.speaking import SpeechService

if TYPE_CHECKING:
    from coordinator.wyoming.zeroconf import Announcer

logger = logging.getLogger(__name__)

# The transcription port's mDNS name: the speech port's, with this after it.
STT_NAME_SUFFIX = "-stt"
# On shutdown, how long the connections get to end after they were told to stop.
STOP_TIMEOUT_S = 5.0
# A refused connection: how long its client gets to read the error event and hang up before the
# server closes anyway. Closing with the client's events still unread would send a reset, which
# can destroy the error event before the client reads it.
REFUSAL_LINGER_S = 2.0
REFUSAL_READ_BYTES = 64 * 1024


def wyoming_host(settings: Settings) -> str:
    return settings.wyoming_host or settings.host


def check_wyoming_bind(settings: Settings) -> None:
    """The HTTP rule, for a protocol without keys: beyond loopback only when asked for explicitly.
    Home Assistant's Wyoming integration cannot send a key, so API_KEY does not protect this port."""
    host = wyoming_host(settings)
    enabled = settings.wyoming_port is not None or settings.wyoming_stt_port is not None
    if not enabled or settings.allow_no_auth or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to listen for Wyoming on {host}: the Wyoming protocol has no authentication (API_KEY "
        "does not cover it); set WYOMING_HOST=127.0.0.1 to keep it on this machine, or ALLOW_NO_AUTH=1 "
        "to let anyone who can reach the port use it (a trusted home network)",
        param="wyoming_host",
    )


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
                    await _refuse(reader, writer, exc)
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


async def _refuse(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, error: CoordinatorError
) -> None:
    """Tell a connection that is not served why (one error event), then close it."""
    try:
        await async_write_event(Error(text=error.message, code=error.code).event(), writer)
        writer.write_eof()
        await asyncio.wait_for(_until_hung_up(reader), timeout=REFUSAL_LINGER_S)
    except (ConnectionError, asyncio.TimeoutError):
        pass
    finally:
        writer.close()


async def _until_hung_up(reader: asyncio.StreamReader) -> None:
    """Read (and drop) what the client sends until it hangs up."""
    while await reader.read(REFUSAL_READ_BYTES):
        pass


def wyoming_slots(settings: Settings, name: str) -> ClientSlots:
    return ClientSlots(
        f"Wyoming {name} connections",
        total=settings.wyoming_max_connections,
        per_client=settings.wyoming_max_connections_per_client,
        total_setting="WYOMING_MAX_CONNECTIONS",
        client_setting="WYOMING_MAX_CONNECTIONS_PER_CLIENT",
    )


def wyoming_servers(
    settings: Settings,
    catalog: ModelCatalog,
    *,
    runtime: Callable[[], Runtime | None],
    not_ready_reason: Callable[[], str | None],
    lifecycle: Lifecycle,
    limits: RequestLimits,
    metrics: Metrics,
) -> tuple[WyomingServer | None, WyomingServer | None]:
    """The listeners ``settings`` ask for: speech (WYOMING_PORT) and transcription
    (WYOMING_STT_PORT), each None when its port is unset, serving the server's own runtime."""
    context = ServerContext(
        runtime=runtime,
        not_ready_reason=not_ready_reason,
        lifecycle=lifecycle,
        idle_timeout_s=settings.wyoming_idle_timeout_s,
        max_event_bytes=settings.max_body_bytes,
    )
    host = wyoming_host(settings)
    speech = stt = None
    if settings.wyoming_port is not None:
        service = SpeechService(
            context=context,
            info=speech_info(catalog, settings).event(),
            voices=voice_entries(catalog, settings),
            limits=limits,
            metrics=metrics,
            seed=settings.wyoming_seed,
        )
        speech = WyomingServer(
            partial(SpeechHandler, service),
            host,
            settings.wyoming_port,
            announcer=_announcer(settings, host, ""),
            slots=wyoming_slots(settings, "speech"),
        )
    if settings.wyoming_stt_port is not None:
        # The recogniser's imports only when asked for.
        from coordinator.wyoming.asr import TranscriptionHandler, TranscriptionService
        from coordinator.wyoming.asr_info import catalog_transcription_info, describe_transcription

        transcription = TranscriptionService(
            context=context,
            describe=describe_transcription(runtime, catalog_transcription_info(settings, catalog)),
            max_audio_seconds=limits.max_audio_seconds,
        )
        stt = WyomingServer(
            partial(TranscriptionHandler, transcription),
            host,
            settings.wyoming_stt_port,
            announcer=_announcer(settings, host, STT_NAME_SUFFIX),
            name="transcription",
            slots=wyoming_slots(settings, "transcription"),
        )
    return speech, stt


def _announcer(settings: Settings, host: str, suffix: str) -> Announcer | None:
    if not settings.wyoming_zeroconf:
        return None
    from coordinator.wyoming.zeroconf import Announcer, default_name  # mDNS only when asked for

    return Announcer(host, (settings.wyoming_zeroconf_name or default_name()) + suffix)
