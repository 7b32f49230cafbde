"""POST /v1/audio/transcriptions and /v1/audio/translations (OpenAI's multipart requests, and Open
WebUI's JSON body with base64 audio), answered whole or streamed as OpenAI's transcript.text
events. Reading the request: transcription_request.py; the transcription: service/transcription.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sse_starlette import EventSourceResponse

from coordinator.runtime.loading import Runtime
from coordinator.server.deps import get_limits, get_runtime
from coordinator.server.disconnect import unless_disconnected
from coordinator.server.errors import error_event
from coordinator.server.openapi_bodies import transcription_body
from coordinator.server.streaming import STREAM_HEADERS, primed, sse_event
from coordinator.server.transcription_request import read_transcription
from coordinator.service import transcription
from coordinator.service.failures import stream_failure
from coordinator.service.limits import RequestLimits
from coordinator.service.readiness import stt_of
from coordinator.stt.formats import Task, TextDeltas, stream_usage
from coordinator.stt.transcript import Segment, Transcript

router = APIRouter()

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
TRANSLATIONS_PATH = "/v1/audio/translations"


async def _respond(request: Request, runtime: Runtime, limits: RequestLimits, task: Task) -> Response:
    stt = stt_of(runtime)
    data, options = await read_transcription(request, task)
    transcription.check(options, stt)
    max_seconds = limits.max_audio_seconds
    if options.stream:
        # What fails before the first segment (bad audio, a full queue) is still an HTTP error; a
        # failure after it is an error event. primed() watches the client until the first segment;
        # after it a client that leaves makes Starlette cancel the stream, which cancels the work.
        segments = transcription.transcribe_streamed(stt, data, options, max_seconds=max_seconds)
        heard = await primed(segments, request)
        return EventSourceResponse(_transcript_events(heard), headers=STREAM_HEADERS)
    transcript = await unless_disconnected(
        request, transcription.transcribe(stt, data, options, max_seconds=max_seconds)
    )
    rendered = transcription.rendered(transcript, options)
    if isinstance(rendered.body, dict):
        return JSONResponse(rendered.body)
    return PlainTextResponse(rendered.body, media_type=rendered.media_type)


async def _transcript_events(heard: AsyncIterator[Segment | Transcript]) -> AsyncIterator[dict[str, str]]:
    """OpenAI's ``transcript.text.delta`` per segment (joined, the deltas are the text), then
    ``transcript.text.done`` with the text and the usage; a failure: an ``error`` event."""
    deltas = TextDeltas()
    try:
        async for item in heard:
            if isinstance(item, Segment):
                delta = deltas.push(item.text)
                if delta:
                    yield sse_event({"type": "transcript.text.delta", "delta": delta})
            else:
                done = {"type": "transcript.text.done", "text": item.text, "usage": stream_usage(item)}
                yield sse_event(done)
    except Exception as exc:
        yield sse_event(error_event(stream_failure(exc)))
    finally:
        await heard.aclose()  # type: ignore[attr-defined]


@router.post(TRANSCRIPTIONS_PATH, response_model=None, openapi_extra=transcription_body(with_language=True))
async def create_transcription(
    request: Request, runtime: Runtime = Depends(get_runtime), limits: RequestLimits = Depends(get_limits)
) -> Response:
    """OpenAI-compatible transcription: json, text, verbose_json, srt or vtt."""
    return await _respond(request, runtime, limits, "transcribe")


@router.post(TRANSLATIONS_PATH, response_model=None, openapi_extra=transcription_body(with_language=False))
async def create_translation(
    request: Request, runtime: Runtime = Depends(get_runtime), limits: RequestLimits = Depends(get_limits)
) -> Response:
    """Speech in any language Whisper knows, written in English."""
    return await _respond(request, runtime, limits, "translate")
