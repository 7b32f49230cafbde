"""The FastAPI app factory and `serve`. Nothing happens at import; models load in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from coordinator import __version__
from coordinator.config import ModelRole, Settings, load_catalog, load_settings, resolve_model_path
from coordinator.errors import CoordinatorError
from coordinator.logs import configure_logging
from coordinator.runtime import Runtime, load_runtime
from coordinator.server.errors import install_error_handlers
from coordinator.server.metrics import Metrics, cuda_if_available
from coordinator.server.middleware import RequestObserver
from coordinator.server.routes import audio, metrics, models, text, voice

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. With ``runtime`` (tests), serve it as is; otherwise load the models in the
    background after start-up, so /health can answer 503 while they load."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime
        app.state.not_ready_reason = None
        loading = None
        if runtime is None:
            loading = asyncio.create_task(_load(app, settings or load_settings()))
        try:
            yield
        finally:
            if loading is not None:
                await loading  # a load in progress runs in a thread: let it finish, then free it
                if app.state.runtime is not None:
                    await asyncio.to_thread(app.state.runtime.close)

    app = FastAPI(title="Orpheus Coordinator", version=__version__, lifespan=lifespan)
    app.state.runtime = None  # until the lifespan sets it; /metrics may be scraped before
    app.state.metrics = Metrics(lambda: app.state.runtime, cuda=cuda_if_available())
    app.add_middleware(RequestObserver, metrics=app.state.metrics)
    install_error_handlers(app)
    app.include_router(models.router)
    app.include_router(metrics.router)
    app.include_router(audio.router)
    app.include_router(text.router)
    app.include_router(voice.router)
    return app


DOWNLOADING_MESSAGE = "downloading the models (see the server log for progress): retry later"


def _download_missing(settings: Settings) -> None:
    import os

    from coordinator.download import fetch, plan_downloads

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
        app.state.runtime = await asyncio.to_thread(load_runtime, settings)
        logger.info("models loaded: ready")
    except CoordinatorError as exc:
        app.state.not_ready_reason = f"model loading failed: {exc}"
        logger.error("%s", app.state.not_ready_reason)
    except Exception:
        app.state.not_ready_reason = "model loading failed: see the server log"
        logger.exception("model loading failed")


def serve(host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    catalog = load_catalog(settings.catalog_path())
    if not settings.auto_download:
        # Refuse at once, with the download command, rather than start a server that can never be ready.
        roles: tuple[ModelRole, ...] = ("orpheus", "snac", "llm")
        for role in roles:
            resolve_model_path(role, catalog, settings)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        # Logging is configured above (uvicorn's records go through the same handler), and the
        # app writes its own access log, which carries the request id.
        log_config=None,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
