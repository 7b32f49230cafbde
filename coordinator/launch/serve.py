"""``python -m coordinator serve``: check the settings, then run the whole server (HTTP and
Wyoming, ``launch/app.py``) under uvicorn until SIGTERM has drained it."""

from __future__ import annotations

import logging

from coordinator.config.catalog import load_catalog
from coordinator.config.settings import load_settings
from coordinator.errors import ModelLoadError
from coordinator.launch.app import create_app
from coordinator.logs import configure_logging
from coordinator.runtime.loading import preflight
from coordinator.server.lifecycle import GracefulServer
from coordinator.service.auth import check_bind
from coordinator.service.connections import is_loopback
from coordinator.wyoming.ports import check_wyoming_bind

logger = logging.getLogger(__name__)


def serve(host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    settings = load_settings()
    host, port = host or settings.host, port or settings.port
    # The command line's host is HOST for everything that follows (WYOMING_HOST defaults to it).
    settings = settings.model_copy(update={"host": host, "port": port})
    check_bind(host, has_api_key=bool(settings.api_keys()), allow_no_auth=settings.allow_no_auth)
    check_wyoming_bind(settings)
    configure_logging(settings.log_level, settings.log_format)
    catalog = load_catalog(settings.catalog_path())
    if not settings.auto_download:
        # Refuse at once, with the download command, rather than start a server that can never be
        # ready: a missing file, or a selection of models the memory cannot hold.
        preflight(settings, catalog)
    keys = len(settings.api_keys())
    if keys:
        logger.info("API key authentication on (%d key(s)); /health stays open", keys)
    elif is_loopback(host):
        logger.info("no API_KEY: authentication off, listening on loopback only")
    else:
        logger.warning("ALLOW_NO_AUTH: anyone who reaches %s:%s is served without authentication", host, port)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # Logging is configured above (uvicorn's records go through the same handler), and the
        # app writes its own access log, which carries the request id.
        log_config=None,
        log_level=settings.log_level.lower(),
        access_log=False,
        ws_max_size=settings.max_body_bytes,  # a WebSocket message is a request body too
    )
    # SIGTERM drains (new requests 503, streams in flight finish within SHUTDOWN_GRACE_S), then exits 0.
    GracefulServer(config, lifecycle=app.state.lifecycle, grace_s=settings.shutdown_grace_s).run()
    if app.state.lifecycle.failure is not None:
        # Exit non-zero (the CLI prints this one line): staying up unready would leave Docker at
        # "starting" for the whole health-check start period, and nothing would ever retry.
        raise ModelLoadError(app.state.lifecycle.failure)
