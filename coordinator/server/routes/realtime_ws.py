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

from fastapi import APIRouter, WebSocket

from coordinator.server.realtime.events import error_payload, is_beta
from coordinator.server.realtime.session import RealtimeSession
from coordinator.server.socket_session import SocketSink, run_session
from coordinator.service.readiness import ready_runtime

router = APIRouter()

REALTIME_PATH = "/v1/realtime"
# The subprotocol browsers offer first; OpenAI's server picks it, and a browser whose offer the
# server does not answer fails the handshake.
REALTIME_PROTOCOL = "realtime"
TRANSCRIPTION_INTENT = "transcription"


@router.websocket(REALTIME_PATH)
async def realtime_websocket(websocket: WebSocket) -> None:
    offered = list(websocket.scope.get("subprotocols", ()))
    await websocket.accept(subprotocol=REALTIME_PROTOCOL if REALTIME_PROTOCOL in offered else None)
    state = websocket.app.state

    def start() -> RealtimeSession:
        runtime = ready_runtime(state.runtime, state.not_ready_reason)
        query = websocket.query_params
        return RealtimeSession(
            runtime,
            SocketSink(websocket, name="realtime"),
            limits=state.limits,
            metrics=state.metrics,
            lifecycle=state.lifecycle,
            idle_timeout_s=state.voice_idle_timeout_s,
            model=query.get("model") or runtime.llm.model_id,
            kind="transcription" if query.get("intent") == TRANSCRIPTION_INTENT else "realtime",
            beta=is_beta(websocket.scope["headers"], offered),
        )

    await run_session(websocket, start, name="realtime", error_payload=error_payload)
