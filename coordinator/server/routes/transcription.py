"""POST /v1/audio/transcriptions and /v1/audio/translations (OpenAI's multipart requests), and the
one path every route that hears speech shares: audio bytes → 16 kHz samples → a slot → Transcript.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from coordinator.errors import InvalidInputError, UnknownModelError
from coordinator.runtime import Runtime
from coordinator.server.deps import get_limits, get_runtime, stt_of
from coordinator.server.disconnect import unless_disconnected
from coordinator.server.limits import RequestLimits
from coordinator.server.protocol import TranscriptionFields
from coordinator.stt.engine import SpeechToText
from coordinator.stt.formats import RESPONSE_FORMATS, Task, language_code, render
from coordinator.stt.isolated import decode_isolated
from coordinator.stt.transcript import Transcript

logger = logging.getLogger(__name__)
router = APIRouter()

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
TRANSLATIONS_PATH = "/v1/audio/translations"
# OpenAI's transcription model names, accepted so existing clients work unchanged.
OPENAI_STT_ALIASES = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
# Form fields other than the file are short; a longer one is not what this API expects.
MAX_FORM_FIELD_BYTES = 64 * 1024
FILE_FIELD = "file"


def _form_schema(*, with_language: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        FILE_FIELD: {"type": "string", "format": "binary", "description": "The audio file"},
        "model": {"type": "string", "description": "whisper-1, the id from /v1/models, or empty"},
        "prompt": {"type": "string"},
        "response_format": {"type": "string", "enum": list(RESPONSE_FORMATS), "default": "json"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1, "default": 0},
    }
    if with_language:
        properties["language"] = {"type": "string", "description": "ISO-639-1 code; empty: detected"}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "required": [FILE_FIELD], "properties": properties}
                }
            },
        }
    }


def check_model(requested: str, stt: SpeechToText) -> None:
    if requested in ("", stt.model_id, *OPENAI_STT_ALIASES):
        return
    raise UnknownModelError(
        f"model {requested!r} does not exist here: use {stt.model_id!r} (or whisper-1, or leave it empty)",
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
) -> Transcript:
    """The shared path: a slot, then on it the decode (in a child process: stt/isolated.py) and
    the transcription. Admitted before decoding, so a request in the queue holds only its upload.
    With ``request``, a client that leaves meanwhile cancels the work (the decoder is killed) and
    frees the slot."""
    code = language_code(language)
    stt.transcriber.check(language=code, task=task, prompt=prompt)  # refuse before queueing
    audio = partial(decode_isolated, data, max_seconds=max_seconds, param=param)
    work = stt.transcribe(audio, language=code, prompt=prompt, temperature=temperature, task=task)
    if request is None:
        return await work
    return await unless_disconnected(request, work)


async def _form(request: Request) -> tuple[bytes, TranscriptionFields]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise InvalidInputError(
            "send the audio as multipart/form-data with a 'file' part (as OpenAI's API takes it)",
            param=FILE_FIELD,
        )
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
        fields = {k: v for k, v in form.items() if k != FILE_FIELD and isinstance(v, str)}
    finally:
        await form.close()
    # Empty form fields mean "not set", as clients send them (Open WebUI: language="").
    fields = {k: v for k, v in fields.items() if v != ""}
    try:
        return data, TranscriptionFields.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


async def _respond(request: Request, runtime: Runtime, limits: RequestLimits, task: Task) -> Response:
    stt = stt_of(runtime)
    data, fields = await _form(request)
    check_model(fields.model, stt)
    transcript = await transcribe_bytes(
        request,
        stt,
        data,
        max_seconds=limits.max_audio_seconds,
        language=fields.language if task == "transcribe" else None,
        prompt=fields.prompt,
        temperature=fields.temperature,
        task=task,
    )
    rendered = render(transcript, fields.response_format, task=task)
    if isinstance(rendered.body, dict):
        return JSONResponse(rendered.body)
    return PlainTextResponse(rendered.body, media_type=rendered.media_type)


@router.post(TRANSCRIPTIONS_PATH, response_model=None, openapi_extra=_form_schema(with_language=True))
async def create_transcription(
    request: Request, runtime: Runtime = Depends(get_runtime), limits: RequestLimits = Depends(get_limits)
) -> Response:
    """OpenAI-compatible transcription: json, text, verbose_json, srt or vtt."""
    return await _respond(request, runtime, limits, "transcribe")


@router.post(TRANSLATIONS_PATH, response_model=None, openapi_extra=_form_schema(with_language=False))
async def create_translation(
    request: Request, runtime: Runtime = Depends(get_runtime), limits: RequestLimits = Depends(get_limits)
) -> Response:
    """Speech in any language Whisper knows, written in English."""
    return await _respond(request, runtime, limits, "translate")
