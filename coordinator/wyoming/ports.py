"""The Wyoming ports the settings open: speech (WYOMING_PORT) and transcription
(WYOMING_STT_PORT), where they listen, the rule against serving them to the network without
asking, their connection limits and their mDNS names."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from coordinator.config.catalog import ModelCatalog
from coordinator.config.settings import Settings
from coordinator.errors import ConfigError
from coordinator.runtime.loading import Runtime
from coordinator.service.connections import ClientSlots, is_loopback
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.wyoming.context import ServerContext
from coordinator.wyoming.handler import SpeechHandler
from coordinator.wyoming.info import speech_info, voice_entries
from coordinator.wyoming.server import WyomingServer
from coordinator.wyoming.speaking import SpeechPort

if TYPE_CHECKING:
    from coordinator.wyoming.zeroconf import Announcer

# The transcription port's mDNS name: the speech port's, with this after it.
STT_NAME_SUFFIX = "-stt"


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
        service = SpeechPort(
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
