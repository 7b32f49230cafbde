"""Per request: an id (echoed in ``X-Request-ID`` and carried by every log record), an access-log
line and the HTTP metrics.

A pure ASGI middleware: it only watches the messages go by, so streamed responses stay streamed
(Starlette's BaseHTTPMiddleware would get in the way of streaming and of disconnects).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coordinator.logs import REQUEST_ID
from coordinator.server.errors import CLIENT_CLOSED_REQUEST
from coordinator.service.metrics import Metrics

access_log = logging.getLogger("coordinator.access")

REQUEST_ID_HEADER = b"x-request-id"
MAX_REQUEST_ID_CHARS = 128
# Visible ASCII only: an id from the client ends up in log lines and response headers.
_VALID_REQUEST_ID = re.compile(rf"[!-~]{{1,{MAX_REQUEST_ID_CHARS}}}")
# One label for every path no route matches, so that scanners cannot blow up the metric series.
UNMATCHED_ROUTE = "unmatched"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "WS"})
OTHER_METHOD = "other"
# Statuses for what never sent an HTTP status: an unexpected error (the error handler answers 500),
# a client gone before the response started (nginx's 499), a WebSocket accepted or refused.
INTERNAL_ERROR = 500
WEBSOCKET_ACCEPTED = 101
WEBSOCKET_REFUSED = 403
# Polled every few seconds by health checks and scrapers: logged at debug, not info.
QUIET_ROUTES = frozenset({"/health", "/livez", "/readyz", "/metrics"})


def request_id_from(scope: Scope) -> str:
    """The client's X-Request-ID when it is sane, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")
            if _VALID_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The template of the route that matched (``/v1/models``), never the raw path."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        # Also on the request's state, for the 500 handler, which runs outside this middleware.
        scope.setdefault("state", {})["request_id"] = request_id
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        status: int | None = None
        sent = 0

        async def observed_send(message: Message) -> None:
            nonlocal status, sent
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start", "websocket.accept"):
                status = message.get("status", WEBSOCKET_ACCEPTED)
                message = {**message, "headers": [*message.get("headers", ()), header]}
            elif kind in ("http.response.body", "websocket.http.response.body"):
                sent += len(message.get("body", b""))
            elif kind == "websocket.send":
                sent += len(message.get("bytes") or b"") + len((message.get("text") or "").encode())
            elif kind == "websocket.close" and status is None:
                status = WEBSOCKET_REFUSED
            await send(message)

        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, observed_send)
        except Exception:
            status = status or INTERNAL_ERROR
            raise
        finally:
            self._record(scope, status or CLIENT_CLOSED_REQUEST, time.perf_counter() - started, sent)
            REQUEST_ID.reset(token)

    def _record(self, scope: Scope, status: int, duration_s: float, sent: int) -> None:
        method = scope.get("method", "WS")
        method = method if method in _KNOWN_METHODS else OTHER_METHOD
        route = route_of(scope)
        if self.metrics is not None:
            self.metrics.observe_request(method, route, status, duration_s)
        raw_path = scope.get("raw_path")
        # Percent-encoded as it arrived: a decoded path could smuggle a newline into a text log.
        path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else scope.get("path", "")
        client = scope.get("client")
        fields: dict[str, Any] = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_s": round(duration_s, 4),
            "bytes_sent": sent,
            "client": client[0] if client else None,
        }
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        access_log.log(level, "%s %s %d %.3fs %dB", method, path, status, duration_s, sent, extra=fields)


class TrailingSlashes:
    """``/v1/audio/speech/`` is answered as ``/v1/audio/speech``, not redirected to it: some
    clients follow no redirects (LibreChat's newest), and a 307 is then a failure. Only a path that
    no route matches as it is, and one does without its trailing slash, is changed; everything
    else (a static page's directory URL, say) is left to the router as it is."""

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self._router = router

    def _routed(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] != Match.NONE for route in self._router.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/") and not self._routed(scope):
                trimmed = path.rstrip("/") or "/"
                if self._routed({**scope, "path": trimmed}):
                    # In place: the router records the matched route in this scope, which the
                    # request observer reads for its metrics. raw_path keeps what the client sent,
                    # for the access log.
                    scope["path"] = trimmed
        await self.app(scope, receive, send)
