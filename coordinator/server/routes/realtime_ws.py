"""OpenAI's Realtime API over one WebSocket: /v1/realtime, a thin door over ``server/realtime/``.

Clients written for OpenAI (the openai SDKs' ``realtime.connect``, Pipecat, LiveKit Agents, the
Agents SDK) connect with their base URL pointed here. The key travels as for every WebSocket here
(``Authorization: Bearer``, or a browser's ``openai-insecure-api-key.<key>`` subprotocol; checked,
and the session counted against MAX_WS_SESSIONS and per client, by the security middleware).
Query parameters: ``model`` (echoed in the session; the server's chat model answers whatever it
says), ``intent=transcription`` (a transcription-only session). The beta dialect is spoken to a
client that asks for it (``OpenAI-Beta: realtime=v1``, or the ``openai-beta.realtime-v1``
subprotocol). Protocol and limits: docs/realtime.md.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from coordinator.errors import ClientDisconnectedError, CoordinatorError
from coordinator.server.errors import ws_close_code, ws_close_reason
from coordinator.server.realtime.events import error_payload, is_beta
from coordinator.server.realtime.session import RealtimeSession, Received
from coordinator.service.failures import stream_failure
from coordinator.service.readiness import ready_runtime

logger = logging.getLogger(__name__)
router = APIRouter()

REALTIME_PATH = "/v1/realtime"
# The subprotocol browsers offer first; OpenAI's server picks it, and a browser whose offer the
# server does not answer fails the handshake.
REALTIME_PROTOCOL = "realtime"
TRANSCRIPTION_INTENT = "transcription"
# What a send fails with once the client is gone (starlette's, or the ASGI server's).
_GONE = (WebSocketDisconnect, RuntimeError, OSError)


class _Sink:
    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def event(self, event: dict[str, Any]) -> None:
        try:
            await self._ws.send_json(event)
        except _GONE as exc:
            raise ClientDisconnectedError("the client left the realtime session") from exc


async def _received(websocket: WebSocket) -> Received:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    data: bytes | None = message.get("bytes")
    return data if data is not None else str(message.get("text") or "")


@router.websocket(REALTIME_PATH)
async def realtime_websocket(websocket: WebSocket) -> None:
    offered = list(websocket.scope.get("subprotocols", ()))
    await websocket.accept(subprotocol=REALTIME_PROTOCOL if REALTIME_PROTOCOL in offered else None)
    state = websocket.app.state
    session: RealtimeSession | None = None
    try:
        runtime = ready_runtime(state.runtime, state.not_ready_reason)
        query = websocket.query_params
        session = RealtimeSession(
            runtime,
            _Sink(websocket),
            limits=state.limits,
            metrics=state.metrics,
            lifecycle=state.lifecycle,
            idle_timeout_s=state.voice_idle_timeout_s,
            model=query.get("model") or runtime.llm.model_id,
            kind="transcription" if query.get("intent") == TRANSCRIPTION_INTENT else "realtime",
            beta=is_beta(websocket.scope["headers"], offered),
        )
        await session.run(lambda: _received(websocket))
        logger.info("realtime websocket: client left")
    except ClientDisconnectedError:
        logger.info("realtime websocket: client left")
    except Exception as exc:
        error = stream_failure(exc) if not isinstance(exc, CoordinatorError) else exc
        with contextlib.suppress(*_GONE):
            await websocket.send_json(error_payload(error))
            await websocket.close(code=ws_close_code(error), reason=ws_close_reason(error))
    finally:
        if session is not None:
            await session.close()
