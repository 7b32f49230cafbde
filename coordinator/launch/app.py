"""The whole server as one ASGI app: the HTTP door, with the Wyoming door started and stopped in
its lifespan, both served by the app's runtime, limits, metrics and drain."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from coordinator.config.catalog import load_catalog
from coordinator.config.settings import Settings, load_settings
from coordinator.runtime.loading import Runtime
from coordinator.server.app import create_app as create_http_app
from coordinator.wyoming.ports import wyoming_servers
from coordinator.wyoming.server import WyomingServer


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """``server.app.create_app``, plus Home Assistant's protocol on its own ports (speech, and
    transcription) when the settings name them. The listeners are on ``app.state.wyoming`` and
    ``app.state.wyoming_stt`` (None when their port is unset)."""
    config: Settings = settings or (runtime.settings if runtime is not None else load_settings())

    @contextlib.asynccontextmanager
    async def wyoming(app: FastAPI) -> AsyncIterator[None]:
        app.state.wyoming, app.state.wyoming_stt = _wyoming(app, config, runtime)
        servers = [server for server in (app.state.wyoming, app.state.wyoming_stt) if server is not None]
        try:
            for server in servers:
                await server.start()  # a port in use fails the start-up here, before any load
            yield
        finally:
            for server in servers:
                await server.stop()  # its connections stop before the models go

    return create_http_app(config, runtime, companions=[wyoming])


def _wyoming(
    app: FastAPI, settings: Settings, runtime: Runtime | None
) -> tuple[WyomingServer | None, WyomingServer | None]:
    if settings.wyoming_port is None and settings.wyoming_stt_port is None:
        return None, None
    return wyoming_servers(
        settings,
        runtime.catalog if runtime is not None else load_catalog(settings.catalog_path()),
        runtime=lambda: app.state.runtime,
        not_ready_reason=lambda: app.state.not_ready_reason,
        lifecycle=app.state.lifecycle,
        limits=app.state.limits,
        metrics=app.state.metrics,
    )
