"""Where a caller's API key travels on this door: the ``Authorization: Bearer`` header, or from a
browser's WebSocket, a subprotocol. Whether the key is right is asked of ``service/auth.py``."""

from __future__ import annotations

from starlette.types import Message, Scope, Send

from coordinator.errors import AuthenticationError

BEARER_SCHEME = "bearer"
# Browsers cannot set headers on a WebSocket, so they send the key as a subprotocol, as OpenAI's
# Realtime API has them do: `new WebSocket(url, ["openai-insecure-api-key." + key])`. A header or a
# subprotocol, unlike a query parameter, stays out of access logs (uvicorn's, nginx's).
WS_KEY_PROTOCOL_PREFIX = "openai-insecure-api-key."

HOW = "send one of the keys set by the server's API_KEY as 'Authorization: Bearer YOUR_KEY'"
HOW_WS = f"{HOW}, or from a browser as the WebSocket subprotocol '{WS_KEY_PROTOCOL_PREFIX}YOUR_KEY'"


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def key_protocol(scope: Scope) -> str | None:
    """The subprotocol a browser put its key in, if it offered one."""
    return next((p for p in scope.get("subprotocols", ()) if p.startswith(WS_KEY_PROTOCOL_PREFIX)), None)


def how_to_send(scope: Scope) -> str:
    """How a caller of this kind of connection sends its key, for the refusal's message."""
    return HOW_WS if scope["type"] == "websocket" else HOW


def given_key(scope: Scope) -> str | None:
    """The key the caller sent, None when it sent none; AuthenticationError for an Authorization
    header of another scheme than Bearer. The header wins over a WebSocket's subprotocol."""
    value = header(scope, b"authorization")
    if value is not None:
        scheme, _, given = value.strip().partition(" ")
        if scheme.lower() != BEARER_SCHEME:
            raise AuthenticationError(
                f"the Authorization header must use the Bearer scheme: {how_to_send(scope)}"
            )
        return given.strip()
    protocol = key_protocol(scope) if scope["type"] == "websocket" else None
    return None if protocol is None else protocol.removeprefix(WS_KEY_PROTOCOL_PREFIX)


def accepting_protocol(send: Send, protocol: str) -> Send:
    """A browser that offered subprotocols fails the handshake unless the server picks one: pick
    the key's own (the client's value, sent back to it alone) when the app picks none."""

    async def send_with_protocol(message: Message) -> None:
        if message["type"] == "websocket.accept" and not message.get("subprotocol"):
            message = {**message, "subprotocol": protocol}
        await send(message)

    return send_with_protocol
