"""Speech in over HTTP, the door's side: a transcription request read from OpenAI's multipart form
or Open WebUI's JSON body (base64 audio in ``input_audio``) into the audio and plain
``TranscriptionOptions``, and the service's upload transcription cancelled when the client leaves.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request

from coordinator.errors import InvalidInputError
from coordinator.server.disconnect import unless_disconnected
from coordinator.server.schemas.transcription import InputAudio, TranscriptionFields, TranscriptionJSONRequest
from coordinator.service import transcription
from coordinator.service.transcription import FILE_PARAM, GRANULARITIES_PARAM, TranscriptionOptions
from coordinator.stt.engine import SpeechToText
from coordinator.stt.formats import Task
from coordinator.stt.transcript import Transcript

# Form fields other than the file are short; a longer one is not what this API expects.
MAX_FORM_FIELD_BYTES = 64 * 1024
MAX_FORM_FIELDS = 32
# openai-python sends a list as repeated fields named with brackets; curl users send the bare name.
GRANULARITIES_FIELDS = (f"{GRANULARITIES_PARAM}[]", GRANULARITIES_PARAM)
MULTIPART = "multipart/form-data"
JSON_MEDIA_TYPE = "application/json"
AUDIO_FIELD = "input_audio"
AUDIO_DATA_PARAM = "input_audio.data"
# A data: URL's marker before its base64 payload ("data:audio/wav;base64,UklGR...").
_DATA_URL_BASE64 = ";base64"
BOTH_FORMS = (
    "send the audio as multipart/form-data with a 'file' part (as OpenAI's API takes it), or as "
    'application/json with {"input_audio": {"data": <base64 audio>, "format": "wav"}} (as Open WebUI sends it)'
)


async def transcribe_bytes(request: Request, stt: SpeechToText, data: bytes, **kwargs: Any) -> Transcript:
    """The service's ``transcribe_bytes`` (same keywords), stopped if the client leaves first."""
    return await unless_disconnected(request, transcription.transcribe_bytes(stt, data, **kwargs))


async def read_transcription(request: Request, task: Task) -> tuple[bytes, TranscriptionOptions]:
    """The audio and what is asked of it, from either form."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == MULTIPART:
        data, fields = await _form(request)
    elif media_type == JSON_MEDIA_TYPE:
        data, fields = await _json_body(request)
    else:
        raise InvalidInputError(BOTH_FORMS, param=FILE_PARAM)
    options = TranscriptionOptions(
        model=fields.model,
        language=fields.language,
        prompt=fields.prompt,
        temperature=fields.temperature,
        task=task,
        response_format=fields.response_format,
        stream=fields.stream,
        granularities=tuple(fields.timestamp_granularities),
    )
    return data, options


async def _form(request: Request) -> tuple[bytes, TranscriptionFields]:
    try:
        form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_FIELD_BYTES)
    except Exception as exc:  # Starlette's MultiPartException and parser errors
        raise InvalidInputError(
            f"the multipart body cannot be read ({exc}): send multipart/form-data with a 'file' part",
            param=FILE_PARAM,
        ) from None
    try:
        upload = form.get(FILE_PARAM)
        if isinstance(upload, UploadFile):
            data = await upload.read()
        elif isinstance(upload, str):
            # A part without a filename is a text field to the multipart parser, already decoded
            # as text: the audio's bytes are lost by then.
            raise InvalidInputError(
                "the 'file' part has no filename, so it arrived as text: send it as a file part "
                '(Content-Disposition: form-data; name="file"; filename="speech.wav")',
                param=FILE_PARAM,
            )
        else:
            raise InvalidInputError(
                "the 'file' part is missing: send the audio as the multipart part named 'file'",
                param=FILE_PARAM,
            )
        # Empty form fields mean "not set", as clients send them (Open WebUI: language="").
        texts = [(k, v) for k, v in form.multi_items() if k != FILE_PARAM and isinstance(v, str) and v != ""]
    finally:
        await form.close()
    fields: dict[str, Any] = {k: v for k, v in texts if k not in GRANULARITIES_FIELDS}
    granularities = [v for k, v in texts if k in GRANULARITIES_FIELDS]
    if granularities:
        fields[GRANULARITIES_PARAM] = granularities
    try:
        return data, TranscriptionFields.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


async def _json_body(request: Request) -> tuple[bytes, TranscriptionFields]:
    # The body, base64 included, is already bounded by MAX_UPLOAD_BYTES (security.py reads it whole
    # and counts it before any route runs): nothing here can be asked to decode more than that.
    body = await request.body()
    try:
        parsed = TranscriptionJSONRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "missing" and tuple(first["loc"]) == (AUDIO_FIELD,):
            raise InvalidInputError(f"{AUDIO_FIELD} is missing: {BOTH_FORMS}", param=AUDIO_FIELD) from None
        if first["type"] == "model_type":  # valid JSON, but not an object
            raise InvalidInputError(f"the JSON body is not an object: {BOTH_FORMS}") from None
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
