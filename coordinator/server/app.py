"""The FastAPI app factory. For now only /health: the API endpoints arrive with the server issue."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from coordinator import __version__
from coordinator.config import load_settings

logger = logging.getLogger(__name__)


def create_app() -> FastAPI:
    """Build the app. Nothing is loaded at import or here; models will load in the lifespan."""
    app = FastAPI(title="Orpheus Coordinator", version=__version__)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def serve(host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    settings = load_settings()
    uvicorn.run(create_app(), host=host or settings.host, port=port or settings.port, log_level="info")
