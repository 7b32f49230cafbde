"""Who may call the server and how much one call may send: API keys (HTTP and the WebSocket), the
request body limit, the WebSocket session limits (in total and per client address), and serve's
refusal to listen beyond loopback without a key. One pure ASGI middleware, installed by
``create_app`` from the settings; what it refuses is answered through ``server/errors.py`` like
every other error. The session counting (``ClientSlots``, in ``service/connections.py``) is
shared with the Wyoming ports."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from coordinator.errors import (
    AuthenticationError,
    ConfigError,
    CoordinatorError,
    PayloadTooLargeError,
)
from coordinator.server.errors import domain_error_response, error_event, ws_close_code, ws_close_reason
from coordinator.service.connections import ClientSlots, is_loopback

logger = logging.getLogger(__name__)

# Load balancers and container health checks carry no key; these reveal only liveness/readiness.
OPEN_PATHS = frozenset({"/health", "/livez", "/readyz"})
# Open WebUI reads the voice and model lists without sending its key (it falls back to OpenAI's
# names, silently, on a 401), and SillyTavern's TTS WebUI provider fetches /v1/audio/voices/<model>
# from the browser without one. They reveal only names. Reading only: nothing else on these paths.
OPEN_LISTINGS = re.compile(r"/v1/audio/(voices|models|voices/[^/]+)")
OPEN_LISTING_METHODS = frozenset({"GET", "HEAD"})
BEARER_SCHEME = "bearer"
# Browsers cannot set headers on a WebSocket, so they send the key as a subprotocol, as OpenAI's
# Realtime API has them do: `new WebSocket(url, ["openai-insecure-api-key." + key])`. A header or a
# subprotocol, unlike a query parameter, stays out of access logs (uvicorn's, nginx's).
WS_KEY_PROTOCOL_PREFIX = "openai-insecure-api-key."

_HOW = "send one of the keys set by the server's API_KEY as 'Authorization: Bearer YOUR_KEY'"
_HOW_WS = f"{_HOW}, or from a browser as the WebSocket subprotocol '{WS_KEY_PROTOCOL_PREFIX}YOUR_KEY'"


def check_bind(host: str, *, has_api_key: bool, allow_no_auth: bool) -> None:
    """Refuse to serve everyone who can reach the port unless that was asked for explicitly."""
    if has_api_key or allow_no_auth or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to listen on {host} without authentication: set API_KEY=<secret> (clients then send "
        "'Authorization: Bearer <secret>'), or set ALLOW_NO_AUTH=1 to serve anyone who can reach the port",
        param="api_key",
    )


def key_digest(key: str) -> bytes:
    # Comparing fixed-size digests keeps a key's length out of the comparison's timing too.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def key_matches(given: str, accepted: Sequence[bytes]) -> bool:
    """Whether ``given`` is one of the keys whose digests are ``accepted``. Every key is compared,
    each in constant time, so the time taken tells neither which key matched nor how much of one."""
    candidate = key_digest(given)
    matched = False
    for expected in accepted:
        matched |= hmac.compare_digest(candidate, expected)
    return matched


def is_open(scope: Scope) -> bool:
    """Whether this request is answered without a key (the probes and the name listings)."""
    path = scope["path"]
    if path in OPEN_PATHS:
        return True
    return scope.get("method") in OPEN_LISTING_METHODS and OPEN_LISTINGS.fullmatch(path) is not None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _key_protocol(scope: Scope) -> str | None:
    """The subprotocol a browser put its key in, if it offered one."""
    return next((p for p in scope.get("subprotocols", ()) if p.startswith(WS_KEY_PROTOCOL_PREFIX)), None)


class SecurityMiddleware:
    """API keys on every path but the health probes and the name listings, the body size limit,
    the WebSocket session limits."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_keys: Sequence[str],
        max_body_bytes: int,
        max_ws_sessions: int,
        max_ws_sessions_per_client: int | None = None,
        upload_paths: frozenset[str] = frozenset(),
        max_upload_bytes: int | None = None,
        open_paths: Sequence[str] = (),
        open_prefixes: Sequence[str] = (),
    ) -> None:
        """``open_paths``, and paths starting with one of ``open_prefixes``, are served without a
        key besides the probes: the browser page and its static files, which a browser fetches
        without headers and which hold no secret (the page asks for the key itself)."""
        self.app = app
        self._open_paths = OPEN_PATHS | frozenset(open_paths)
        self._open_prefixes = tuple(open_prefixes)
        self._accepted = tuple(key_digest(key) for key in api_keys)
        self._max_body_bytes = max_body_bytes
        # Routes that take audio (an upload, or a voice turn) carry more than text does.
        self._upload_paths = upload_paths
        self._max_upload_bytes = max_upload_bytes or max_body_bytes
        self.ws_sessions = ClientSlots(
            "WebSocket sessions",
            total=max_ws_sessions,
            per_client=max_ws_sessions_per_client or max_ws_sessions,
            total_setting="MAX_WS_SESSIONS",
            client_setting="MAX_WS_SESSIONS_PER_CLIENT",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _authenticate(self, scope: Scope) -> None:
        path = scope["path"]
        if (
            not self._accepted
            or is_open(scope)
            or path in self._open_paths
            or path.startswith(self._open_prefixes)
        ):
            return
        how = _HOW_WS if scope["type"] == "websocket" else _HOW
        header = _header(scope, b"authorization")
        if header is not None:
            scheme, _, given = header.strip().partition(" ")
            if scheme.lower() != BEARER_SCHEME:
                raise AuthenticationError(f"the Authorization header must use the Bearer scheme: {how}")
            given = given.strip()
        else:
            protocol = _key_protocol(scope) if scope["type"] == "websocket" else None
            if protocol is None:
                raise AuthenticationError(f"You didn't provide an API key: {how}")
            given = protocol.removeprefix(WS_KEY_PROTOCOL_PREFIX)
        if not key_matches(given, self._accepted):
            raise AuthenticationError(f"Incorrect API key provided: {how}")

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self._authenticate(scope)
            replay = await self._read_body(scope, receive)
        except CoordinatorError as exc:
            await domain_error_response(exc)(scope, receive, send)
            return
        if replay is not None:  # None: the client left during the upload
            await self.app(scope, replay, send)

    def _limit(self, scope: Scope) -> tuple[int, str]:
        if scope["path"] in self._upload_paths:
            return self._max_upload_bytes, "MAX_UPLOAD_BYTES"
        return self._max_body_bytes, "MAX_BODY_BYTES"

    def _too_large(self, scope: Scope) -> PayloadTooLargeError:
        limit, name = self._limit(scope)
        return PayloadTooLargeError(
            f"the request body is larger than this server's limit of {limit} bytes "
            f"({name}): send a smaller request"
        )

    async def _read_body(self, scope: Scope, receive: Receive) -> Receive | None:
        """Read the whole body, counting what actually arrives (a chunked upload has no
        Content-Length to trust), then hand it to the app as if it were arriving now."""
        limit, _ = self._limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise self._too_large(scope)  # refused before a byte of the body is read
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise self._too_large(scope)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal body
            if body is not None:
                message, body = body, None
                return message
            return await receive()  # later calls: the app waits for the client to disconnect

        return replay

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        protocol = _key_protocol(scope)
        if protocol is not None:
            send = _accepting_protocol(send, protocol)
        # The peer's address, or behind a proxy uvicorn trusts (FORWARDED_ALLOW_IPS), the one its
        # X-Forwarded-For names.
        client = scope["client"][0] if scope.get("client") else None
        with contextlib.ExitStack() as slot:
            try:
                self._authenticate(scope)
                slot.enter_context(self.ws_sessions.held(client))
            except CoordinatorError as exc:
                logger.info("speech WebSocket from %s refused: %s", scope.get("client"), exc.code)
                await _refuse(WebSocket(scope, receive, send), exc)
                return
            await self.app(scope, receive, send)


def _accepting_protocol(send: Send, protocol: str) -> Send:
    """A browser that offered subprotocols fails the handshake unless the server picks one: pick
    the key's own (the client's value, sent back to it alone) when the app picks none."""

    async def send_with_protocol(message: Message) -> None:
        if message["type"] == "websocket.accept" and not message.get("subprotocol"):
            message = {**message, "subprotocol": protocol}
        await send(message)

    return send_with_protocol


async def _refuse(websocket: WebSocket, error: CoordinatorError) -> None:
    """Accept, then say why and close: a refused handshake would show a browser only a bare 403."""
    with contextlib.suppress(WebSocketDisconnect):  # the client may not wait to hear it
        await websocket.accept()
        await websocket.send_json(error_event(error))
        await websocket.close(code=ws_close_code(error), reason=ws_close_reason(error))
