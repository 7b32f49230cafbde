"""WS /v1/audio/speech/stream/ws (the seed guide's speech stream): the client sends the text;
binary 16-bit 24 kHz PCM chunks come back, then a JSON end event and a clean close. With
``timings``/``check`` in the query, a JSON ``speech.heard`` event follows each utterance's audio
(docs/timings.md)."""

from __future__ import annotations

import contextlib
import logging
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from coordinator.audio.encoders import PcmEncoder
from coordinator.errors import (
    ClientDisconnectedError,
    CoordinatorError,
    InvalidInputError,
)
from coordinator.server.disconnect import unless_websocket_closed
from coordinator.server.errors import error_event, ws_close_code, ws_close_reason
from coordinator.server.speaking import query_flag, speaker_of
from coordinator.service.failures import stream_failure
from coordinator.service.lifecycle import IdleTimeout, Lifecycle
from coordinator.service.readiness import ready_runtime
from coordinator.service.speech import ListenRequest, Speech

logger = logging.getLogger(__name__)
router = APIRouter()

# A speech WebSocket that sends nothing this long after connecting is closed.
WS_FIRST_MESSAGE_TIMEOUT_S = 30.0


@router.websocket("/v1/audio/speech/stream/ws")
async def speech_websocket(websocket: WebSocket, voice: str | None = None, model: str | None = None) -> None:
    """The client sends text; binary 16-bit 24 kHz PCM chunks come back, then a JSON end event and
    a clean close (``normalize=false`` in the query: the text is spoken as written). Errors are a JSON error event, then close 1013 (busy or loading: retry), 1011
    (server fault) or 1008 (bad request). Speech has every door's caps (service/speech.py)."""
    await websocket.accept()
    try:
        runtime = ready_runtime(websocket.app.state.runtime, websocket.app.state.not_ready_reason)
        speaker = speaker_of(websocket.app.state, runtime)
        speaker.resolve(voice, model)  # a bad voice is refused before the text
        normalize = query_flag(websocket.query_params.get("normalize"), param="normalize")
        listen = _listen_request(websocket)
        text = await _first_message(websocket)
        speech = speaker.speak(
            text,
            voice,
            model,
            door="ws",
            param="text",
            started=time.perf_counter(),
            normalize=normalize,
            listen=listen,
        )
        samples = await unless_websocket_closed(websocket, _send_speech(websocket, speech))
        await websocket.send_json(
            {
                "type": "speech.end",
                "samples": samples,
                "sample_rate": speech.sample_rate,
                "format": "pcm_s16le",
            }
        )
        await websocket.close()
    except (WebSocketDisconnect, ClientDisconnectedError):
        logger.info("speech websocket: client left")
    except Exception as exc:
        # Domain errors go out as they are; anything else is logged and reported as an internal
        # error, never as its text. The client may be gone already: then there is nobody to tell.
        error = stream_failure(exc) if not isinstance(exc, CoordinatorError) else exc
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await websocket.send_json(error_event(error))
            await websocket.close(code=ws_close_code(error), reason=ws_close_reason(error))


async def _first_message(websocket: WebSocket) -> str:
    """The text to speak. A session still waiting for it holds nothing worth waiting for, so it
    ends when the server starts draining (the client retries elsewhere), and after a timeout (an
    idle session would hold one of MAX_WS_SESSIONS for nothing)."""
    lifecycle: Lifecycle = websocket.app.state.lifecycle
    try:
        received = await lifecycle.arrival(websocket.receive(), WS_FIRST_MESSAGE_TIMEOUT_S)
    except IdleTimeout:
        raise InvalidInputError(
            f"no text arrived within {WS_FIRST_MESSAGE_TIMEOUT_S:g} s of connecting: send the text "
            "to speak as the first message"
        ) from None
    if received["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(received.get("code", 1000))
    text = received.get("text")
    if text is None:
        raise InvalidInputError(
            "the first message is binary: send the text to speak as a text message", param="text"
        )
    return str(text)


async def _send_speech(websocket: WebSocket, speech: Speech) -> int:
    """Send the speech as binary PCM chunks; returns the samples sent."""
    encoder = PcmEncoder()
    samples = 0
    async for chunk in speech.chunks():
        samples += len(chunk)
        await websocket.send_bytes(encoder.encode(chunk))
        for heard in speech.new_heard():
            await websocket.send_json({"type": "speech.heard", **heard.as_dict()})
    await speech.finish_listening()  # the last utterances, still being heard
    for heard in speech.new_heard():
        await websocket.send_json({"type": "speech.heard", **heard.as_dict()})
    return samples


def _listen_request(websocket: WebSocket) -> ListenRequest:
    """``timings``, ``check`` (yes/no) and ``retakes`` (a count) from the query; unset ones keep
    the server's SPEECH_* settings. The audio streams, so retakes are made only when asked."""
    query = websocket.query_params
    flags = {
        name: None if query.get(name) in (None, "") else query_flag(query.get(name), param=name)
        for name in ("timings", "check")
    }
    retakes = query.get("retakes")
    if retakes is not None and not retakes.isdigit():
        raise InvalidInputError(f"retakes={retakes!r} is not a count: send 0, 1, 2 ...", param="retakes")
    return ListenRequest(
        timings=flags["timings"], check=flags["check"], retakes=None if retakes is None else int(retakes)
    )
