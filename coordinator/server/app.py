"""The FastAPI app factory. Nothing happens at import; the models load in the lifespan
(``service/startup.py``).

What else runs in the same lifespan (the Wyoming ports) is composed above this door, in
``coordinator/launch``, and passed in as ``companions``: the HTTP door knows no other door.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from coordinator import __version__
from coordinator.config.settings import Settings, load_settings
from coordinator.runtime.loading import Runtime
from coordinator.server.error_handlers import install_error_handlers
from coordinator.server.lifecycle import DrainGate
from coordinator.server.middleware import RequestObserver, TrailingSlashes
from coordinator.server.openapi import install_openapi
from coordinator.server.routes import (
    audio,
    captioned,
    chat,
    metrics,
    models,
    realtime_ws,
    seed,
    speech_ws,
    status,
    text,
    transcription,
    voice_ws,
    voices,
)
from coordinator.server.security import SecurityMiddleware
from coordinator.server.web import router as web
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics, cuda_if_available
from coordinator.service.startup import load_models
from coordinator.service.voice_session import VOICE_IDLE_TIMEOUT_S
from coordinator.service.voices import voice_cloning

# Something that runs beside the HTTP app for its whole lifespan (the Wyoming listeners).
Companion = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]

# What a browser page on an allowed origin may send and read (no cookies: keys travel in a header).
CORS_METHODS = ["GET", "POST", "DELETE"]
CORS_HEADERS = ["Authorization", "Content-Type"]
CORS_EXPOSED_HEADERS = ["Retry-After", "X-Transcript", "X-Transcript-Language"]
# Routes whose bodies carry audio: limited by MAX_UPLOAD_BYTES instead of MAX_BODY_BYTES.
UPLOAD_PATHS = frozenset(
    {transcription.TRANSCRIPTIONS_PATH, transcription.TRANSLATIONS_PATH, "/chat", voices.VOICES_PATH}
)


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    *,
    companions: Sequence[Companion] = (),
) -> FastAPI:
    """Build the app. With ``runtime`` (tests), serve it as is; otherwise load the models in the
    background after start-up, so /health can answer 503 while they load. ``settings`` (default:
    the runtime's, else the environment's) set the API keys, limits and CORS. ``companions`` run
    for the app's lifespan, started before the models load and stopped before they are freed;
    each is given the app, whose state (runtime, limits, metrics, lifecycle) they share."""
    config: Settings = settings or (runtime.settings if runtime is not None else load_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _serve(app, runtime)
        app.state.not_ready_reason = None
        async with contextlib.AsyncExitStack() as running:
            for companion in companions:
                # A companion that cannot start (a port in use) fails the start-up here, before
                # any load; those already started are stopped.
                await running.enter_async_context(companion(app))
            loading = None
            if runtime is None:
                loading = asyncio.create_task(_load(app, config))
            try:
                yield
            finally:
                await running.aclose()  # the companions' connections stop before the models go
                if loading is not None:
                    await loading  # a load in progress runs in a thread: let it finish, then free it
                    if app.state.runtime is not None:
                        await asyncio.to_thread(app.state.runtime.close)

    app = FastAPI(title="Orpheus Coordinator", version=__version__, lifespan=lifespan)
    app.state.runtime = None  # until the lifespan sets it; /metrics may be scraped before
    app.state.voice_cloning = None
    app.state.metrics = Metrics(lambda: app.state.runtime, cuda=cuda_if_available())
    app.state.settings = config
    app.state.limits = RequestLimits.from_settings(config)
    app.state.lifecycle = Lifecycle(on_abort=lambda: _abort(app))
    # How long a live voice session may stay silent before it is closed (tests shorten it).
    app.state.voice_idle_timeout_s = VOICE_IDLE_TIMEOUT_S
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
    # In this order: the first route that matches a path serves it.
    for routes in (
        models,
        metrics,
        voices,  # before audio: GET /v1/audio/voices/voice_<hex> is a custom voice, not a model
        audio,
        captioned,
        text,
        chat,
        seed,
        speech_ws,
        transcription,
        voice_ws,
        realtime_ws,
        status,
    ):
        app.include_router(routes.router)
    if config.web_ui:
        web.install_web_ui(app)
    return app


async def _load(app: FastAPI, settings: Settings) -> None:
    def report(reason: str | None) -> None:
        app.state.not_ready_reason = reason

    runtime = await load_models(settings, app.state.lifecycle, report=report)
    if runtime is not None:
        _serve(app, runtime)


def _serve(app: FastAPI, runtime: Runtime | None) -> None:
    """Serve ``runtime``, with its one custom-voice service (it holds the names being created)."""
    app.state.voice_cloning = voice_cloning(runtime) if runtime is not None else None
    app.state.runtime = runtime


def _abort(app: FastAPI) -> None:
    runtime: Runtime | None = app.state.runtime
    if runtime is not None:
        runtime.abort()
