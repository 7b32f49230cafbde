"""The FastAPI app factory. For now only /health: the API endpoints arrive with the server issue."""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI

from coordinator import __version__

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def create_app() -> FastAPI:
    """Build the app. Nothing is loaded at import or here; models will load in the lifespan."""
    app = FastAPI(title="Orpheus Coordinator", version=__version__)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def serve(host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    uvicorn.run(
        create_app(),
        host=host or os.environ.get("HOST", DEFAULT_HOST),
        port=port or int(os.environ.get("PORT", DEFAULT_PORT)),
        log_level="info",
    )
