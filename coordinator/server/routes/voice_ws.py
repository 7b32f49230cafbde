"""Live talk over one WebSocket: /v1/voice/ws, a thin door over ``service/voice_session.py``.

The client streams microphone audio as binary 16-bit little-endian mono PCM (at ``sample_rate``,
16 kHz by default); voice activity detection ends the user's turn; the server transcribes it,
the chat model answers, Orpheus speaks, and the speech streams back as binary 16-bit 24 kHz PCM
while JSON events say what happens (the list is in the session's module). When the user speaks
while the assistant is answering (barge-in), the answer's generation is cancelled at once.
Errors are an ``error`` event (OpenAI's error shape); after a bad message, or a failed turn, the
session stays open; it closes when the server is going away, or the session was idle.
Query parameters: ``voice`` (of any loaded model), ``model`` (where to look for it), ``language``
(of the user; default detected), ``sample_rate`` (of the PCM sent, 8000-96000), ``seed``
(reproducible replies), ``normalize`` (false: replies are spoken as written, markdown and numbers
included). Messages accepted besides audio: ``{"type": "input_audio.commit"}`` ends
the turn now (push-to-talk released), ``{"type": "response.cancel"}`` stops the answer.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, WebSocket

from coordinator.engine.sampling import MAX_SEED
from coordinator.errors import InvalidInputError
from coordinator.server.socket_session import SocketSink, run_session
from coordinator.server.speaking import query_flag
from coordinator.service.readiness import ready_runtime
from coordinator.service.voice_session import VoiceSession, VoiceSettings
from coordinator.stt.audio import PcmResampler
from coordinator.stt.formats import language_code
from coordinator.stt.transcript import SAMPLE_RATE as STT_RATE

router = APIRouter()

VOICE_WS_PATH = "/v1/voice/ws"
MIN_INPUT_RATE, MAX_INPUT_RATE = PcmResampler.MIN_RATE, PcmResampler.MAX_RATE


def _settings_of(query: Mapping[str, str]) -> VoiceSettings:
    raw_rate = query.get("sample_rate") or str(STT_RATE)
    if not raw_rate.isdigit() or not MIN_INPUT_RATE <= int(raw_rate) <= MAX_INPUT_RATE:
        raise InvalidInputError(
            f"sample_rate={raw_rate!r} is not a rate this server takes: send an integer from "
            f"{MIN_INPUT_RATE} to {MAX_INPUT_RATE} (Hz) matching your PCM",
            param="sample_rate",
        )
    raw_seed = query.get("seed") or None
    if raw_seed is not None and (not raw_seed.isdigit() or int(raw_seed) > MAX_SEED):
        raise InvalidInputError(f"seed={raw_seed!r} must be an integer from 0 to {MAX_SEED}", param="seed")
    return VoiceSettings(
        voice=query.get("voice") or None,
        model=query.get("model") or None,
        language=language_code(query.get("language")),
        sample_rate=int(raw_rate),
        seed=int(raw_seed) if raw_seed is not None else None,
        normalize=query_flag(query.get("normalize"), param="normalize"),
    )


@router.websocket(VOICE_WS_PATH)
async def voice_websocket(websocket: WebSocket) -> None:
    await websocket.accept()
    state = websocket.app.state

    def start() -> VoiceSession:
        return VoiceSession(
            ready_runtime(state.runtime, state.not_ready_reason),
            _settings_of(websocket.query_params),
            SocketSink(websocket, name="voice"),
            limits=state.limits,
            metrics=state.metrics,
            lifecycle=state.lifecycle,
            idle_timeout_s=state.voice_idle_timeout_s,
        )

    await run_session(websocket, start, name="voice")
