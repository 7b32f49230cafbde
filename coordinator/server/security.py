"""Who may call the server and how much one call may send: API keys (HTTP and the WebSocket), the
request body limit, the WebSocket session limits (in total and per client address). One pure ASGI
middleware, installed by ``create_app`` from the settings; what it refuses is answered through
``server/errors.py`` like every other error. Whether a key is right (``service/auth.py``) and the
session counting (``ClientSlots``, in ``service/connections.py``) are shared with the other doors;
where the key travels is ``credentials.py``, the body reading ``body_limit.py``."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from coordinator.errors import AuthenticationError, CoordinatorError
from coordinator.server.body_limit import read_body
from coordinator.server.credentials import accepting_protocol, given_key, how_to_send, key_protocol
from coordinator.server.errors import domain_error_response, error_event, ws_close_code, ws_close_reason
from coordinator.service.auth import ApiKeys
from coordinator.service.connections import ClientSlots, is_loopback

logger = logging.getLogger(__name__)

# Load balancers and container health checks carry no key; these reveal only liveness/readiness.
OPEN_PATHS = frozenset({"/health", "/livez", "/readyz"})
# Open WebUI reads the voice and model lists without sending its key (it falls back to OpenAI's
# names, silently, on a 401), and SillyTavern's TTS WebUI provider fetches /v1/audio/voices/<model>
# from the browser without one. They reveal only names. Reading only: nothing else on these paths.
OPEN_LISTINGS = re.compile(r"/v1/audio/(voices|models|voices/[^/]+)")
OPEN_LISTING_METHODS = frozenset({"GET", "HEAD"})
# Creating or deleting a custom voice copies or forgets someone's voice: it always needs the key,
# and with no API_KEY set, only this machine may do it (ALLOW_NO_AUTH opens speech, not cloning).
VOICE_CHANGES = re.compile(r"/v1/audio/voices(/[^/]+)?")
VOICE_CHANGE_METHODS = frozenset({"POST", "DELETE"})
NO_KEY_VOICE_CHANGES = (
    "creating or deleting a custom voice from another machine needs an API key: set API_KEY=<secret> "
    "on the server and send 'Authorization: Bearer <secret>', or do it on the server's own machine"
)


def is_open(scope: Scope) -> bool:
    """Whether this request is answered without a key (the probes and the name listings)."""
    path = scope["path"]
    if path in OPEN_PATHS:
        return True
    return scope.get("method") in OPEN_LISTING_METHODS and OPEN_LISTINGS.fullmatch(path) is not None


def changes_voices(scope: Scope) -> bool:
    """Whether this request creates or deletes a custom voice."""
    return scope.get("method") in VOICE_CHANGE_METHODS and VOICE_CHANGES.fullmatch(scope["path"]) is not None


def from_this_machine(scope: Scope) -> bool:
    client = scope.get("client")
    return client is not None and is_loopback(str(client[0]))


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
        self._keys = ApiKeys(api_keys)
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
        if not self._keys.required and changes_voices(scope) and not from_this_machine(scope):
            raise AuthenticationError(NO_KEY_VOICE_CHANGES)
        if (
            not self._keys.required
            or is_open(scope)
            or path in self._open_paths
            or path.startswith(self._open_prefixes)
        ):
            return
        self._keys.check(given_key(scope), how=how_to_send(scope))

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self._authenticate(scope)
            if scope["path"] in self._upload_paths:
                limit, setting = self._max_upload_bytes, "MAX_UPLOAD_BYTES"
            else:
                limit, setting = self._max_body_bytes, "MAX_BODY_BYTES"
            replay = await read_body(scope, receive, limit=limit, setting=setting)
        except CoordinatorError as exc:
            await domain_error_response(exc)(scope, receive, send)
            return
        if replay is not None:  # None: the client left during the upload
            await self.app(scope, replay, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        protocol = key_protocol(scope)
        if protocol is not None:
            send = accepting_protocol(send, protocol)
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


async def _refuse(websocket: WebSocket, error: CoordinatorError) -> None:
    """Accept, then say why and close: a refused handshake would show a browser only a bare 403."""
    with contextlib.suppress(WebSocketDisconnect):  # the client may not wait to hear it
        await websocket.accept()
        await websocket.send_json(error_event(error))
        await websocket.close(code=ws_close_code(error), reason=ws_close_reason(error))
