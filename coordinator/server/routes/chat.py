"""POST /chat: the seed guide's voice assistant. Gemma answers the user's turn (text, or speech
transcribed first); the reply is spoken sentence by sentence as it is written (service/speech.py)."""

from __future__ import annotations

import base64
import binascii
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sse_starlette import EventSourceResponse

from coordinator.audio.encoders import WavEncoder
from coordinator.errors import InvalidInputError
from coordinator.llm.chat import ChatMessage
from coordinator.runtime.loading import Runtime
from coordinator.server.chat_events import chat_events
from coordinator.server.deps import get_limits, get_runtime
from coordinator.server.schemas.chat import VoiceChatRequest
from coordinator.server.speaking import get_speaker
from coordinator.server.streaming import STREAM_HEADERS, encoded_audio, primed, sse_event
from coordinator.server.transcription_request import transcribe_bytes
from coordinator.service.conversation import Conversation
from coordinator.service.failures import stream_failure
from coordinator.service.limits import RequestLimits
from coordinator.service.readiness import stt_of
from coordinator.service.speech import ListenRequest, Speaker, Speech

logger = logging.getLogger(__name__)
router = APIRouter()

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
    speaker: Speaker = Depends(get_speaker),
) -> StreamingResponse | EventSourceResponse:
    """Gemma answers; each sentence is spoken as soon as it is complete; one WAV streams back
    (or, with ``stream_format: "sse"``, the text and the speech as events: chat_events.py).
    A spoken turn (``audio``) is transcribed first; its transcript is in the X-Transcript header."""
    started = time.perf_counter()
    speaker.resolve(body.voice)  # the voice picks the Orpheus model: a bad one is refused first
    conversation = Conversation(runtime, limits, speaker)
    history = [ChatMessage(m.role, m.content) for m in body.history]
    conversation.check_history(history)
    params = conversation.reply_params(
        max_tokens=body.max_tokens, temperature=body.temperature, seed=body.seed
    )
    # Everything cheap is checked before the audio is transcribed (a typed message is checked
    # with the turn, below: it costs nothing to get).
    message, headers = await _heard(http_request, body, runtime, limits)
    reply = conversation.reply(
        history, message, params, param="audio" if body.audio is not None else "message"
    )
    headers = {**STREAM_HEADERS, **headers}
    if body.stream_text:
        return StreamingResponse(
            _text(await primed(reply.deltas(), http_request)),
            media_type="text/plain; charset=utf-8",
            headers=headers,
        )

    def spoken(texts: AsyncIterator[str]) -> Speech:
        return conversation.speak(
            texts,
            body.voice,
            door="chat",
            seed=body.seed,
            started=started,
            normalize=body.normalize,
            # Word timings are events: only the event stream has them (a WAV reply keeps the
            # server's SPEECH_CHECK, counted in the metrics and logged).
            listen=ListenRequest(timings=body.timings, check=body.check)
            if body.stream_format == "sse"
            else ListenRequest(timings=False),
        )

    if body.stream_format == "sse":
        # Primed on the first text: the page shows the words as they are written. A speech
        # engine too busy for the first sentence is then an error event, not a 429.
        events = chat_events(await primed(reply.deltas(), http_request), spoken)
        if body.audio is not None:
            events = _after(sse_event({"type": TRANSCRIPT_EVENT, "text": message}), events)
        return EventSourceResponse(events, headers=headers)
    speech = spoken(await primed(reply.deltas(), http_request))
    # Primed on the first audio, not only the first text: a speech engine too busy for the first
    # sentence is then a 429 before the response starts (later sentences are never refused).
    return StreamingResponse(
        encoded_audio(await primed(speech.chunks(), http_request), WavEncoder(), header_first=True),
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
