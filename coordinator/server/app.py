"""The FastAPI app factory and `serve`. Nothing happens at import; models load in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from coordinator import __version__
from coordinator.config import Settings, load_catalog, load_settings
from coordinator.errors import CoordinatorError, ModelLoadError
from coordinator.logs import configure_logging
from coordinator.runtime.loading import Runtime, load_runtime, preflight
from coordinator.server.errors import install_error_handlers
from coordinator.server.lifecycle import DrainGate, GracefulServer
from coordinator.server.middleware import RequestObserver, TrailingSlashes
from coordinator.server.openapi import install_openapi
from coordinator.server.routes import audio, metrics, models, status, text, transcription, voice, voice_ws
from coordinator.server.security import SecurityMiddleware, check_bind
from coordinator.server.web import router as web
from coordinator.service.connections import is_loopback
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics, cuda_if_available
from coordinator.service.readiness import DOWNLOADING_MESSAGE
from coordinator.wyoming.server import WyomingServer, check_wyoming_bind, wyoming_servers

logger = logging.getLogger(__name__)

# What a browser page on an allowed origin may send and read (no cookies: keys travel in a header).
CORS_METHODS = ["GET", "POST"]
CORS_HEADERS = ["Authorization", "Content-Type"]
CORS_EXPOSED_HEADERS = ["Retry-After", "X-Transcript", "X-Transcript-Language"]
# Routes whose bodies carry audio: limited by MAX_UPLOAD_BYTES instead of MAX_BODY_BYTES.
UPLOAD_PATHS = frozenset({transcription.TRANSCRIPTIONS_PATH, transcription.TRANSLATIONS_PATH, "/chat"})


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. With ``runtime`` (tests), serve it as is; otherwise load the models in the
    background after start-up, so /health can answer 503 while they load. ``settings`` (default:
    the runtime's, else the environment's) set the API keys, limits and CORS."""
    config: Settings = settings or (runtime.settings if runtime is not None else load_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime
        app.state.not_ready_reason = None
        app.state.wyoming, app.state.wyoming_stt = _wyoming(app, config, runtime)
        wyoming = [server for server in (app.state.wyoming, app.state.wyoming_stt) if server is not None]
        try:
            for server in wyoming:
                await server.start()  # a port in use fails the start-up here, before any load
        except BaseException:
            for server in wyoming:
                await server.stop()
            raise
        loading = None
        if runtime is None:
            loading = asyncio.create_task(_load(app, config))
        try:
            yield
        finally:
            for server in wyoming:
                await server.stop()  # its connections stop before the models go
            if loading is not None:
                await loading  # a load in progress runs in a thread: let it finish, then free it
                if app.state.runtime is not None:
                    await asyncio.to_thread(app.state.runtime.close)

    app = FastAPI(title="Orpheus Coordinator", version=__version__, lifespan=lifespan)
    app.state.runtime = None  # until the lifespan sets it; /metrics may be scraped before
    app.state.metrics = Metrics(lambda: app.state.runtime, cuda=cuda_if_available())
    app.state.settings = config
    app.state.limits = RequestLimits.from_settings(config)
    app.state.lifecycle = Lifecycle(on_abort=lambda: _abort(app))
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(
        SecurityMiddleware,
        api_keys=config.api_keys(),
        max_body_bytes=config.max_body_bytes,
        max_ws_sessions=config.max_ws_sessions,
        max_ws_sessions_per_client=config.max_ws_sessions_per_client,
        upload_paths=UPLOAD_PATHS,
        max_upload_bytes=config.max_upload_bytes,
        open_paths=web.OPEN_PATHS if config.web_ui else (),
        open_prefixes=web.OPEN_PREFIXES if config.web_ui else (),
    )
    if config.cors_origins:
        # Added last, so it runs first: a preflight carries no key and must be answered before
        # authentication, and refusals (401, 413) need CORS headers for the page to read them.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=config.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
        )
    # Before authentication, which must judge the path the router will serve.
    app.add_middleware(TrailingSlashes, router=app.router)
    # While draining before shutdown, new requests are refused here, before any other work.
    app.add_middleware(DrainGate, lifecycle=app.state.lifecycle)
    # Outermost: every response, refusals by the middlewares above included, gets a request id
    # and is counted.
    app.add_middleware(RequestObserver, metrics=app.state.metrics)
    app.include_router(models.router)
    app.include_router(metrics.router)
    app.include_router(audio.router)
    app.include_router(text.router)
    app.include_router(voice.router)
    app.include_router(transcription.router)
    app.include_router(voice_ws.router)
    app.include_router(status.router)
    if config.web_ui:
        web.install_web_ui(app)
    return app


def _wyoming(
    app: FastAPI, settings: Settings, runtime: Runtime | None
) -> tuple[WyomingServer | None, WyomingServer | None]:
    """Home Assistant's protocol on its own ports (speech, transcription), served by this app's
    models, limits and drain."""
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


def _download_missing(settings: Settings) -> None:
    import os

    from coordinator.runtime.download import fetch, plan_downloads

    missing = [
        item for item in plan_downloads(load_catalog(settings.catalog_path()), settings) if not item.present
    ]
    if missing:
        logger.info("AUTO_DOWNLOAD: fetching %s", ", ".join(item.filename for item in missing))
        fetch(
            missing, token=os.environ.get("HF_TOKEN") or None, endpoint=os.environ.get("HF_ENDPOINT") or None
        )


async def _load(app: FastAPI, settings: Settings) -> None:
    try:
        if settings.auto_download:
            app.state.not_ready_reason = DOWNLOADING_MESSAGE
            await asyncio.to_thread(_download_missing, settings)
            app.state.not_ready_reason = None
        runtime = await asyncio.to_thread(load_runtime, settings)
        try:
            # Published only once warm: the first user request must not pay for first calls.
            await asyncio.to_thread(runtime.warm_up)
        except BaseException:
            await asyncio.to_thread(runtime.close)
            raise
        app.state.runtime = runtime
        logger.info("models loaded and warmed up: ready")
    except CoordinatorError as exc:
        app.state.not_ready_reason = f"model loading failed: {exc}"
        logger.error("%s", app.state.not_ready_reason)
        app.state.lifecycle.fail(app.state.not_ready_reason)
    except Exception as exc:
        app.state.not_ready_reason = f"model loading failed: {type(exc).__name__}: {exc} (see the server log)"
        logger.exception("model loading failed")
        app.state.lifecycle.fail(app.state.not_ready_reason)


def _abort(app: FastAPI) -> None:
    runtime: Runtime | None = app.state.runtime
    if runtime is not None:
        runtime.abort()


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
