"""The seed guide's endpoints: POST /chat (voice assistant), GET|POST /tts, GET /models, and the
WebSocket speech stream of seed 002."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from sse_starlette import EventSourceResponse

from coordinator.audio.encoders import PcmEncoder, WavEncoder
from coordinator.errors import (
    ClientDisconnectedError,
    CoordinatorError,
    InvalidInputError,
    NotReadyError,
    ShuttingDownError,
)
from coordinator.llm.chat import ChatMessage
from coordinator.runtime.loading import Runtime
from coordinator.server.chat_events import chat_events
from coordinator.server.deps import get_limits, get_metrics, get_runtime
from coordinator.server.disconnect import unless_websocket_closed
from coordinator.server.errors import error_event, ws_close_code, ws_close_reason
from coordinator.server.protocol import SeedTTSRequest, VoiceChatRequest
from coordinator.server.routes.transcription import transcribe_bytes
from coordinator.server.streaming import STREAM_HEADERS, encoded_audio, primed, sse_event
from coordinator.service.conversation import SpokenReply
from coordinator.service.failures import stream_failure
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.limits import RequestLimits, speech_max_tokens
from coordinator.service.metrics import Metrics
from coordinator.service.readiness import LOADING_MESSAGE, SHUTTING_DOWN_MESSAGE, stt_of
from coordinator.tts.synthesis import Utterances

logger = logging.getLogger(__name__)
router = APIRouter()

# A speech WebSocket that sends nothing this long after connecting is closed.
WS_FIRST_MESSAGE_TIMEOUT_S = 30.0

DEFAULT_REPLY_MAX_TOKENS = 256  # a spoken reply of a few sentences
# The transcript of a spoken turn. Header values are Latin-1: the text is percent-encoded UTF-8.
TRANSCRIPT_HEADER = "X-Transcript"
TRANSCRIPT_LANGUAGE_HEADER = "X-Transcript-Language"
# With stream_format "sse", a spoken turn's transcript is also the first event.
TRANSCRIPT_EVENT = "input.transcript"


def transcript_headers(text: str, language: str) -> dict[str, str]:
    return {TRANSCRIPT_HEADER: urllib.parse.quote(text, safe=" "), TRANSCRIPT_LANGUAGE_HEADER: language}


async def _heard(
    http_request: Request, body: VoiceChatRequest, runtime: Runtime, limits: RequestLimits
) -> tuple[str, dict[str, str]]:
    """The user's turn as text: the message, or the transcript of the audio (and its headers)."""
    if body.message is not None:
        return body.message, {}
    stt = stt_of(runtime)
    try:
        data = base64.b64decode(body.audio or "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            "audio is not valid base64: send the audio file's bytes base64-encoded", param="audio"
        ) from None
    transcript = await transcribe_bytes(
        http_request,
        stt,
        data,
        max_seconds=limits.max_audio_seconds,
        language=body.language,
        param="audio",
    )
    if not transcript.text.strip():
        raise InvalidInputError(
            "no speech was recognised in audio: record the question again, closer to the microphone",
            param="audio",
        )
    return transcript.text, transcript_headers(transcript.text, transcript.language)


@router.post("/chat", response_model=None)
async def voice_chat(
    http_request: Request,
    body: VoiceChatRequest,
    runtime: Runtime = Depends(get_runtime),
    limits: RequestLimits = Depends(get_limits),
    metrics: Metrics = Depends(get_metrics),
) -> StreamingResponse | EventSourceResponse:
    """Gemma answers; each sentence is spoken as soon as it is complete; one WAV streams back
    (or, with ``stream_format: "sse"``, the text and the speech as events: chat_events.py).
    A spoken turn (``audio``) is transcribed first; its transcript is in the X-Transcript header."""
    started = time.perf_counter()
    # The voice picks the Orpheus model that speaks the reply (tts/registry.py).
    resolved = runtime.resolve_voice(body.voice)
    tts, llm, voice = resolved.tts, runtime.llm, resolved.voice
    limits.check_conversation([m.content for m in body.history], param="history")
    max_tokens = limits.completion_tokens(
        body.max_tokens, default=DEFAULT_REPLY_MAX_TOKENS, param="max_tokens"
    )
    if body.message is not None:
        limits.check_text(body.message, param="message")
    # Everything cheap is checked before the audio is transcribed.
    message, headers = await _heard(http_request, body, runtime, limits)
    limits.check_text(message, param="audio" if body.audio is not None else "message")
    headers = {**STREAM_HEADERS, **headers}
    messages = [ChatMessage(m.role, m.content) for m in body.history] + [ChatMessage("user", message)]
    request = llm.chat_request(messages, body.to_sampling_params(max_tokens))
    loop = asyncio.get_running_loop()
    reply = llm.start(request, loop=loop)
    if body.stream_text:
        return StreamingResponse(
            _text(await primed(reply.deltas(), http_request)),
            media_type="text/plain; charset=utf-8",
            headers=headers,
        )
    # Each spoken sentence, like any speech request, within the server's token cap.
    speech_params = replace(tts.default_params, max_tokens=speech_max_tokens(None, runtime, limits))
    spoken = SpokenReply(tts, voice, speech_params, loop=loop, snac=runtime.snac)
    if body.stream_format == "sse":
        # Primed on the first text: the page shows the words as they are written. A speech
        # engine too busy for the first sentence is then an error event, not a 429.
        deltas = await primed(reply.deltas(), http_request)
        events = chat_events(
            deltas, spoken, lambda audio: metrics.speech_audio("chat", audio, spoken.streams, started=started)
        )
        if body.audio is not None:
            events = _after(sse_event({"type": TRANSCRIPT_EVENT, "text": message}), events)
        return EventSourceResponse(events, headers=headers)
    audio = metrics.speech_audio(
        "chat", spoken.audio(await primed(reply.deltas(), http_request)), spoken.streams, started=started
    )
    # Primed on the first audio, not only the first text: a speech engine too busy for the first
    # sentence is then a 429 before the response starts (later sentences are never refused).
    return StreamingResponse(
        encoded_audio(await primed(audio, http_request), WavEncoder(), header_first=True),
        media_type="audio/wav",
        headers=headers,
    )


async def _after(
    first: dict[str, str], events: AsyncIterator[dict[str, str]]
) -> AsyncIterator[dict[str, str]]:
    yield first
    async for event in events:
        yield event


async def _text(deltas: AsyncIterator[str]) -> AsyncIterator[bytes]:
    try:
        async for delta in deltas:
            yield delta.encode()
    except Exception as exc:
        # Plain text has no error event: end the stream early but cleanly (an exception escaping
        # here would make the server abort the connection mid-chunk).
        stream_failure(exc)


async def _seed_tts(
    request: Request, body: SeedTTSRequest, runtime: Runtime, metrics: Metrics, limits: RequestLimits
) -> StreamingResponse:
    started = time.perf_counter()
    resolved = runtime.resolve_voice(body.voice)
    limits.check_text(body.prompt, param="prompt")
    max_tokens = speech_max_tokens(body.max_tokens, runtime, limits)
    speech = resolved.tts.speak(
        body.prompt,
        resolved.voice,
        body.to_sampling_params(resolved.tts.default_params, max_tokens),
        loop=asyncio.get_running_loop(),
    )
    audio = speech.aiter_chunks(runtime.snac)
    chunks = await primed(metrics.speech_audio("tts", audio, speech.streams, started=started), request)
    return StreamingResponse(
        encoded_audio(chunks, WavEncoder(), header_first=True), media_type="audio/wav", headers=STREAM_HEADERS
    )


@router.get("/tts", response_model=None)
async def seed_tts_get(
    request: Request,
    query: Annotated[SeedTTSRequest, Query()],
    runtime: Runtime = Depends(get_runtime),
    metrics: Metrics = Depends(get_metrics),
    limits: RequestLimits = Depends(get_limits),
) -> StreamingResponse:
    return await _seed_tts(request, query, runtime, metrics, limits)


@router.post("/tts", response_model=None)
async def seed_tts_post(
    request: Request,
    body: SeedTTSRequest,
    runtime: Runtime = Depends(get_runtime),
    metrics: Metrics = Depends(get_metrics),
    limits: RequestLimits = Depends(get_limits),
) -> StreamingResponse:
    return await _seed_tts(request, body, runtime, metrics, limits)


@router.get("/models")
async def seed_models(runtime: Runtime = Depends(get_runtime)) -> dict:
    """The seed guide's model description, with the license block."""
    catalog = runtime.catalog
    return {
        "llm": {
            "id": runtime.llm.model_id,
            "name": catalog.llm.name,
            "provider": catalog.llm.provider,
            "quantization": runtime.llm.quant,
            "license": catalog.llm.license,
            "license_url": catalog.llm.license_url,
            "capabilities": ["conversational_ai", "streaming", "instruction_following"],
            "loaded": True,
        },
        "tts": {
            "id": runtime.orpheus_text.model_id,
            "name": catalog.orpheus.name,
            "provider": catalog.orpheus.provider,
            "quantization": runtime.tts.quant,
            "license": catalog.orpheus.license,
            "license_url": catalog.orpheus.license_url,
            "capabilities": ["text_to_speech", "streaming", "emotion_control"],
            "voices": runtime.tts.voices,
            "languages": runtime.speech.default.languages,
            "loaded": True,
        },
        # Every loaded Orpheus model (the default one, "tts", first); a voice picks its model.
        "tts_models": [
            {
                "id": model.model_id,
                "key": model.key,
                "name": model.spec.name,
                "languages": model.languages,
                "quantization": model.tts.quant,
                "license": model.spec.license,
                "voices": model.voices,
            }
            for model in runtime.speech
        ],
        "codec": {
            "name": catalog.snac.name,
            "license": catalog.snac.license,
            "license_url": catalog.snac.license_url,
        },
    }


@router.websocket("/v1/audio/speech/stream/ws")
async def speech_websocket(websocket: WebSocket, voice: str | None = None, model: str | None = None) -> None:
    """The client sends text; binary 16-bit 24 kHz PCM chunks come back, then a JSON end event and
    a clean close. Errors are a JSON error event, then close 1013 (busy or loading: retry), 1011 (server fault) or 1008 (bad request)."""
    await websocket.accept()
    runtime: Runtime | None = websocket.app.state.runtime
    try:
        if runtime is None:
            raise NotReadyError(websocket.app.state.not_ready_reason or LOADING_MESSAGE)
        resolved = runtime.resolve_voice(voice, model)  # a bad voice is refused before the text
        text = await _first_message(websocket)
        started = time.perf_counter()
        speech = resolved.tts.speak(text, resolved.voice, None, loop=asyncio.get_running_loop())
        samples = await unless_websocket_closed(websocket, _send_speech(websocket, runtime, speech, started))
        await websocket.send_json(
            {
                "type": "speech.end",
                "samples": samples,
                "sample_rate": runtime.tts.sample_rate,
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
    message = asyncio.ensure_future(websocket.receive())
    drain = asyncio.ensure_future(lifecycle.until_draining())
    try:
        done, _ = await asyncio.wait(
            {message, drain}, timeout=WS_FIRST_MESSAGE_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        drain.cancel()
        if not message.done():
            message.cancel()
    if message in done:
        received = message.result()
        if received["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(received.get("code", 1000))
        text = received.get("text")
        if text is None:
            raise InvalidInputError(
                "the first message is binary: send the text to speak as a text message", param="text"
            )
        return str(text)
    if drain in done:
        raise ShuttingDownError(SHUTTING_DOWN_MESSAGE)
    raise InvalidInputError(
        f"no text arrived within {WS_FIRST_MESSAGE_TIMEOUT_S:g} s of connecting: send the text "
        "to speak as the first message"
    )


async def _send_speech(websocket: WebSocket, runtime: Runtime, speech: Utterances, started: float) -> int:
    """Send the speech as binary PCM chunks; returns the samples sent."""
    encoder = PcmEncoder()
    samples = 0
    metrics: Metrics = websocket.app.state.metrics
    audio = speech.aiter_chunks(runtime.snac)
    async for chunk in metrics.speech_audio("ws", audio, speech.streams, started=started):
        samples += len(chunk)
        await websocket.send_bytes(encoder.encode(chunk))
    return samples
