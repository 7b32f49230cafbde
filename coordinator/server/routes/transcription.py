"""POST /v1/audio/transcriptions and /v1/audio/translations (OpenAI's multipart requests, and Open
WebUI's JSON body with base64 audio), answered whole or streamed as OpenAI's transcript.text
events, and the one path every route that hears speech shares: audio bytes → 16 kHz samples → a
slot → Transcript.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from starlette.datastructures import UploadFile

from coordinator.errors import InvalidInputError, UnknownModelError
from coordinator.runtime.loading import Runtime
from coordinator.server.deps import get_limits, get_runtime
from coordinator.server.disconnect import unless_disconnected
from coordinator.server.errors import error_event
from coordinator.server.protocol import InputAudio, TranscriptionFields, TranscriptionJSONRequest
from coordinator.server.streaming import STREAM_HEADERS, primed, sse_event
from coordinator.service.failures import stream_failure
from coordinator.service.limits import RequestLimits
from coordinator.service.readiness import stt_of
from coordinator.stt.engine import OnSegment, SpeechToText
from coordinator.stt.formats import (
    DEFAULT_GRANULARITIES,
    RESPONSE_FORMATS,
    STREAMABLE_FORMATS,
    Task,
    TextDeltas,
    language_code,
    render,
    stream_usage,
)
from coordinator.stt.isolated import decode_isolated
from coordinator.stt.model_names import ACCEPTED_NAMES, names_the_recogniser
from coordinator.stt.transcript import Segment, Transcript

logger = logging.getLogger(__name__)
router = APIRouter()

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
TRANSLATIONS_PATH = "/v1/audio/translations"
# Form fields other than the file are short; a longer one is not what this API expects.
MAX_FORM_FIELD_BYTES = 64 * 1024
FILE_FIELD = "file"
# openai-python sends a list as repeated fields named with brackets; curl users send the bare name.
GRANULARITIES_FIELD = "timestamp_granularities"
GRANULARITIES_FIELDS = (f"{GRANULARITIES_FIELD}[]", GRANULARITIES_FIELD)
MULTIPART = "multipart/form-data"
JSON_MEDIA_TYPE = "application/json"
AUDIO_FIELD = "input_audio"
AUDIO_DATA_PARAM = "input_audio.data"
# A data: URL's marker before its base64 payload ("data:audio/wav;base64,UklGR...").
_DATA_URL_BASE64 = ";base64"
_BOTH_FORMS = (
    "send the audio as multipart/form-data with a 'file' part (as OpenAI's API takes it), or as "
    'application/json with {"input_audio": {"data": <base64 audio>, "format": "wav"}} (as Open WebUI sends it)'
)


def _body_schema(*, with_language: bool) -> dict[str, Any]:
    """The request body as the document shows it: OpenAI's multipart form, or the same fields as
    JSON with the audio in ``input_audio``."""
    fields: dict[str, Any] = {
        "model": {
            "type": "string",
            "description": "whisper-1 (any whisper* name), gpt-4o-transcribe (any gpt-*transcribe* name), "
            "the id from /v1/models, or empty",
        },
        "prompt": {"type": "string"},
        "response_format": {"type": "string", "enum": list(RESPONSE_FORMATS), "default": "json"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1, "default": 0},
        "stream": {
            "type": "boolean",
            "default": False,
            "description": "true: text/event-stream of transcript.text.delta events as segments are "
            "decoded, then transcript.text.done (response_format json or text)",
        },
        GRANULARITIES_FIELD: {
            "type": "array",
            "items": {"type": "string", "enum": ["word", "segment"]},
            "maxItems": 2,
            "description": "Timings in verbose_json: word, segment (the default), or both "
            f"(also accepted as {GRANULARITIES_FIELD}[])",
        },
    }
    if with_language:
        fields["language"] = {"type": "string", "description": "ISO-639-1 code; empty: detected"}
    multipart = {
        FILE_FIELD: {"type": "string", "format": "binary", "description": "The audio file"},
        **fields,
    }
    as_json = {
        AUDIO_FIELD: {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {"type": "string", "description": "The audio file, base64 (or a base64 data: URL)"},
                "format": {
                    "type": "string",
                    "description": "wav, mp3, ogg, webm...: a hint, the bytes are probed",
                },
            },
        },
        **fields,
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                MULTIPART: {"schema": {"type": "object", "required": [FILE_FIELD], "properties": multipart}},
                JSON_MEDIA_TYPE: {
                    "schema": {"type": "object", "required": [AUDIO_FIELD], "properties": as_json}
                },
            },
        }
    }


def check_model(requested: str, stt: SpeechToText) -> None:
    if names_the_recogniser(requested, stt.model_id):
        return
    raise UnknownModelError(
        f"model {requested!r} does not exist here: send {ACCEPTED_NAMES}, {stt.model_id!r}, "
        "or leave it empty",
        param="model",
    )


async def transcribe_bytes(
    request: Request | None,
    stt: SpeechToText,
    data: bytes,
    *,
    max_seconds: float,
    language: str | None = None,
    prompt: str | None = None,
    temperature: float = 0.0,
    task: Task = "transcribe",
    param: str = FILE_FIELD,
    word_timestamps: bool = False,
    on_segment: OnSegment | None = None,
) -> Transcript:
    """The shared path: a slot, then on it the decode (in a child process: stt/isolated.py) and
    the transcription. Admitted before decoding, so a request in the queue holds only its upload.
    With ``request``, a client that leaves meanwhile cancels the work (the decoder is killed) and
    frees the slot."""
    # stt.transcribe refuses what the model cannot do (language, task, prompt) before it queues,
    # and so before anything is decoded.
    audio = partial(decode_isolated, data, max_seconds=max_seconds, param=param)
    work = stt.transcribe(
        audio,
        language=language_code(language),
        prompt=prompt,
        temperature=temperature,
        task=task,
        word_timestamps=word_timestamps,
        on_segment=on_segment,
    )
    if request is None:
        return await work
    return await unless_disconnected(request, work)


async def _read_request(request: Request) -> tuple[bytes, TranscriptionFields]:
    """The audio and the fields, from OpenAI's multipart form or Open WebUI's JSON body."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == MULTIPART:
        data, fields = await _form(request)
    elif media_type == JSON_MEDIA_TYPE:
        data, fields = await _json_body(request)
    else:
        raise InvalidInputError(_BOTH_FORMS, param=FILE_FIELD)
    _check_combination(fields)
    return data, fields


async def _form(request: Request) -> tuple[bytes, TranscriptionFields]:
    try:
        form = await request.form(max_files=1, max_fields=32, max_part_size=MAX_FORM_FIELD_BYTES)
    except Exception as exc:  # Starlette's MultiPartException and parser errors
        raise InvalidInputError(
            f"the multipart body cannot be read ({exc}): send multipart/form-data with a 'file' part",
            param=FILE_FIELD,
        ) from None
    try:
        upload = form.get(FILE_FIELD)
        if isinstance(upload, UploadFile):
            data = await upload.read()
        elif isinstance(upload, str):
            # A part without a filename is a text field to the multipart parser, already decoded
            # as text: the audio's bytes are lost by then.
            raise InvalidInputError(
                "the 'file' part has no filename, so it arrived as text: send it as a file part "
                '(Content-Disposition: form-data; name="file"; filename="speech.wav")',
                param=FILE_FIELD,
            )
        else:
            raise InvalidInputError(
                "the 'file' part is missing: send the audio as the multipart part named 'file'",
                param=FILE_FIELD,
            )
        # Empty form fields mean "not set", as clients send them (Open WebUI: language="").
        texts = [(k, v) for k, v in form.multi_items() if k != FILE_FIELD and isinstance(v, str) and v != ""]
    finally:
        await form.close()
    fields: dict[str, Any] = {k: v for k, v in texts if k not in GRANULARITIES_FIELDS}
    granularities = [v for k, v in texts if k in GRANULARITIES_FIELDS]
    if granularities:
        fields[GRANULARITIES_FIELD] = granularities
    return data, _validated(TranscriptionFields, fields)


async def _json_body(request: Request) -> tuple[bytes, TranscriptionFields]:
    # The body, base64 included, is already bounded by MAX_UPLOAD_BYTES (security.py reads it whole
    # and counts it before any route runs): nothing here can be asked to decode more than that.
    body = await request.body()
    try:
        parsed = TranscriptionJSONRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "missing" and tuple(first["loc"]) == (AUDIO_FIELD,):
            raise InvalidInputError(f"{AUDIO_FIELD} is missing: {_BOTH_FORMS}", param=AUDIO_FIELD) from None
        if first["type"] == "model_type":  # valid JSON, but not an object
            raise InvalidInputError(f"the JSON body is not an object: {_BOTH_FORMS}") from None
        raise RequestValidationError(exc.errors()) from None
    return _audio_of(parsed.input_audio), parsed


def _audio_of(input_audio: InputAudio) -> bytes:
    text = input_audio.data
    if text.startswith("data:"):  # a data: URL, as browsers make them
        header, _, text = text.partition(",")
        if not header.endswith(_DATA_URL_BASE64):
            raise InvalidInputError(
                f"{AUDIO_DATA_PARAM} is a data: URL without ';base64': send the audio base64-encoded",
                param=AUDIO_DATA_PARAM,
            )
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            f"{AUDIO_DATA_PARAM} is not valid base64: send the audio file's bytes base64-encoded",
            param=AUDIO_DATA_PARAM,
        ) from None


def _validated(model: type[TranscriptionFields], fields: dict[str, Any]) -> TranscriptionFields:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def _check_combination(fields: TranscriptionFields) -> None:
    """What OpenAI refuses too: timings need verbose_json, and a stream carries text only."""
    if fields.timestamp_granularities and fields.response_format != "verbose_json":
        raise InvalidInputError(
            f"{GRANULARITIES_FIELD} needs response_format=verbose_json (the only format that carries "
            f"word and segment timings), not {fields.response_format!r}: send response_format=verbose_json",
            param=GRANULARITIES_FIELD,
        )
    if fields.stream and fields.response_format not in STREAMABLE_FORMATS:
        raise InvalidInputError(
            "stream=true answers transcript.text events, which carry text only, so response_format "
            f"{fields.response_format!r} cannot be streamed: send response_format=json (or text), or "
            "leave stream out",
            param="stream",
        )


async def _respond(request: Request, runtime: Runtime, limits: RequestLimits, task: Task) -> Response:
    stt = stt_of(runtime)
    data, fields = await _read_request(request)
    check_model(fields.model, stt)
    transcribing = partial(
        transcribe_bytes,
        stt=stt,
        data=data,
        max_seconds=limits.max_audio_seconds,
        language=fields.language if task == "transcribe" else None,
        prompt=fields.prompt,
        temperature=fields.temperature,
        task=task,
        word_timestamps="word" in fields.timestamp_granularities,
    )
    if fields.stream:
        return await _streamed(request, transcribing)
    transcript = await transcribing(request)
    granularities = fields.timestamp_granularities or DEFAULT_GRANULARITIES
    rendered = render(transcript, fields.response_format, task=task, granularities=granularities)
    if isinstance(rendered.body, dict):
        return JSONResponse(rendered.body)
    return PlainTextResponse(rendered.body, media_type=rendered.media_type)


async def _streamed(request: Request, transcribing: Callable[..., Awaitable[Transcript]]) -> Response:
    """OpenAI's transcription stream. What fails before the first segment (bad audio, a full
    queue) is still an HTTP error; a failure after it is an error event. A client that leaves
    stops the transcription at its next segment: Starlette cancels the stream, which cancels it."""
    # primed() watches the client until the first segment, the stream after it: no request below.
    heard = await primed(_as_decoded(partial(transcribing, None)), request)
    return EventSourceResponse(_transcript_events(heard), headers=STREAM_HEADERS)


async def _as_decoded(
    transcribing: Callable[..., Awaitable[Transcript]],
) -> AsyncIterator[Segment | Transcript]:
    """Each segment as the worker thread decodes it, then the whole transcript. Closing the
    iterator before the end (a client gone) cancels the transcription."""
    loop = asyncio.get_running_loop()
    decoded: asyncio.Queue[Segment | None] = asyncio.Queue()

    def on_segment(segment: Segment) -> None:  # on the worker thread
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            loop.call_soon_threadsafe(decoded.put_nowait, segment)

    work = asyncio.ensure_future(transcribing(on_segment=on_segment))
    # The thread hands every segment to the loop before its result reaches it: None comes last.
    work.add_done_callback(lambda _: decoded.put_nowait(None))
    try:
        while (segment := await decoded.get()) is not None:
            yield segment
        yield await work
    finally:
        work.cancel()  # nothing when it is done
        await asyncio.wait({work})
        if not work.cancelled():
            work.exception()  # raised above already, or moot: the client has gone


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


@router.post(TRANSCRIPTIONS_PATH, response_model=None, openapi_extra=_body_schema(with_language=True))
async def create_transcription(
    request: Request, runtime: Runtime = Depends(get_runtime), limits: RequestLimits = Depends(get_limits)
) -> Response:
    """OpenAI-compatible transcription: json, text, verbose_json, srt or vtt."""
    return await _respond(request, runtime, limits, "transcribe")


@router.post(TRANSLATIONS_PATH, response_model=None, openapi_extra=_body_schema(with_language=False))
async def create_translation(
    request: Request, runtime: Runtime = Depends(get_runtime), limits: RequestLimits = Depends(get_limits)
) -> Response:
    """Speech in any language Whisper knows, written in English."""
    return await _respond(request, runtime, limits, "translate")
