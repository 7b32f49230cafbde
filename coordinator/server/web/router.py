"""Serves the page (``/``) and its static files (``/web/...``); ``WEB_UI=0`` leaves both out."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_PATH = "/"
STATIC_PREFIX = "/web"
# Served without an API key (a browser fetches them without headers; they hold no secret).
OPEN_PATHS = (PAGE_PATH,)
OPEN_PREFIXES = (f"{STATIC_PREFIX}/",)

# The page loads only its own files and talks only to this server: a script injected somehow
# could not load code or send data elsewhere. blob: plays and downloads results kept in the browser.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # Revalidated on every load, so an upgraded server is never shown with an old page.
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def install_web_ui(app: FastAPI) -> None:
    """Add the page and its files to ``app`` (outside the API document: they are not API)."""

    @app.get(PAGE_PATH, include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS)

    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="web")
