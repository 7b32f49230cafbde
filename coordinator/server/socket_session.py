"""What the session WebSockets (/v1/voice/ws, /v1/realtime) share: sending to a client that may have
gone, reading its next frame, and running a session to its end with the one way a failure is told
(an error event, then the close code the error calls for)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from fastapi import WebSocket, WebSocketDisconnect

from coordinator.errors import ClientDisconnectedError, CoordinatorError
from coordinator.server.errors import error_event, ws_close_code, ws_close_reason
from coordinator.service.failures import stream_failure

logger = logging.getLogger(__name__)

# What a send fails with once the client is gone (starlette's, or the ASGI server's).
GONE = (WebSocketDisconnect, RuntimeError, OSError)

Received = bytes | str | None


class Session(Protocol):
    async def run(self, receive: Callable[[], Awaitable[Received]]) -> None: ...

    async def close(self) -> None: ...


class SocketSink:
    """A session's output as WebSocket messages: events as JSON text, speech as binary PCM. A send
    to a client that left is ClientDisconnectedError, which ends the session quietly."""

    def __init__(self, websocket: WebSocket, *, name: str) -> None:
        self._ws = websocket
        self._left = f"the client left the {name} session"

    async def event(self, event: dict[str, Any]) -> None:
        try:
            await self._ws.send_json(event)
        except GONE as exc:
            raise ClientDisconnectedError(self._left) from exc

    async def audio(self, pcm: bytes) -> None:
        try:
            await self._ws.send_bytes(pcm)
        except GONE as exc:
            raise ClientDisconnectedError(self._left) from exc

    async def error(self, error: CoordinatorError) -> None:
        await self.event(error_event(error))


async def received(websocket: WebSocket) -> Received:
    """The client's next message: bytes, a text message, or None once it left."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    data: bytes | None = message.get("bytes")
    return data if data is not None else str(message.get("text") or "")


async def run_session(
    websocket: WebSocket,
    start: Callable[[], Session],
    *,
    name: str,
    error_payload: Callable[[CoordinatorError], dict[str, Any]] = error_event,
) -> None:
    """Start a session (``start`` may refuse: not ready, a bad query) and run it until the client
    leaves; a failure is sent as the door's error event, then the socket is closed with the code
    the error calls for. The session is closed whatever happened."""
    session: Session | None = None
    try:
        session = start()
        await session.run(lambda: received(websocket))
        logger.info("%s websocket: client left", name)
    except ClientDisconnectedError:
        logger.info("%s websocket: client left", name)
    except Exception as exc:
        error = exc if isinstance(exc, CoordinatorError) else stream_failure(exc)
        with contextlib.suppress(*GONE):
            await websocket.send_json(error_payload(error))
            await websocket.close(code=ws_close_code(error), reason=ws_close_reason(error))
    finally:
        if session is not None:
            await session.close()
