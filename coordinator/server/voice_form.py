"""A custom voice's creation form (POST /v1/audio/voices), read into what the cloning service takes:
the name, the recordings in the order sent, their transcripts, the consent recording. The fields are
OpenAI's (``name``, ``audio_sample``, ``type``) and ours (see routes/voices.py)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from coordinator.errors import InvalidInputError
from coordinator.service.voices import CONSENT_PARAM, NAME_PARAM, SAMPLE_PARAM, TRANSCRIPT_PARAM

# OpenAI's field first; curl users and other clients send these; openai-python names lists with [].
SAMPLE_FIELDS = frozenset({SAMPLE_PARAM, f"{SAMPLE_PARAM}[]", "file", "audio"})
TRANSCRIPT_FIELDS = frozenset({TRANSCRIPT_PARAM, f"{TRANSCRIPT_PARAM}[]"})
# OpenAI's ``type`` ("audio_sample" or "prompt"): only recordings make a voice here.
TYPE_FIELD = "type"
AUDIO_SAMPLE_TYPE = "audio_sample"
# The form's text fields are a name and transcripts: short. Files are bounded by MAX_UPLOAD_BYTES.
MAX_FORM_FIELD_BYTES = 64 * 1024
MAX_FORM_FIELDS = 32
FORM_HINT = (
    "send multipart/form-data with 'name', the recording as a file part 'audio_sample' (repeat it for "
    "several samples) and, optionally, one 'transcript' per sample"
)


async def read_voice_form(request: Request) -> tuple[str, list[bytes], list[str | None], bytes | None]:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "multipart/form-data":
        raise InvalidInputError(f"the body is {media_type or 'empty'}: {FORM_HINT}", param=SAMPLE_PARAM)
    try:
        form = await request.form(
            max_files=MAX_FORM_FIELDS, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_FIELD_BYTES
        )
    except Exception as exc:  # Starlette's MultiPartException and parser errors
        raise InvalidInputError(
            f"the multipart body cannot be read ({exc}): {FORM_HINT}", param=SAMPLE_PARAM
        ) from None
    name: str | None = None
    samples: list[bytes] = []
    transcripts: list[str | None] = []
    consent: bytes | None = None
    try:
        for field, value in form.multi_items():
            if field == NAME_PARAM and isinstance(value, str):
                name = value
            elif field in SAMPLE_FIELDS:
                samples.append(await _file(value, field))
            elif field in TRANSCRIPT_FIELDS and isinstance(value, str):
                transcripts.append(value)
            elif field == CONSENT_PARAM and isinstance(value, UploadFile):
                consent = await value.read()
            # A text consent is OpenAI's consent-recording id, which its SDK always sends: there are
            # no such ids here. Ignored: where VOICE_CONSENT_PHRASE asks for consent, the service
            # then asks for the recording itself.
            elif field == TYPE_FIELD and value != AUDIO_SAMPLE_TYPE:
                raise InvalidInputError(
                    f"type {value!r}: this server makes voices from recordings only ('{AUDIO_SAMPLE_TYPE}'): "
                    "send an audio_sample",
                    param=TYPE_FIELD,
                )
    finally:
        await form.close()
    if name is None:
        raise InvalidInputError(f"no 'name': {FORM_HINT}", param=NAME_PARAM)
    return name, samples, transcripts, consent


async def _file(value: UploadFile | str, field: str) -> bytes:
    if not isinstance(value, UploadFile):
        raise InvalidInputError(
            f"'{field}' is text, not a file: send the recording as a file part", param=field
        )
    return await value.read()


def voice_form_body() -> dict[str, Any]:
    """The creation form as the OpenAPI document shows it (FastAPI cannot see a form read by hand)."""
    recording = {"type": "string", "format": "binary"}
    fields = {
        NAME_PARAM: {"type": "string", "description": "The voice's name (not a built-in or OpenAI voice's)"},
        SAMPLE_PARAM: {
            "type": "array",
            "items": recording,
            "description": "3-30 s of one speaker, any common container; repeat the field for several "
            "samples (also accepted as 'file' or 'audio')",
        },
        TRANSCRIPT_PARAM: {
            "type": "array",
            "items": {"type": "string"},
            "description": "What each sample says, in the samples' order; a missing one is transcribed "
            "by the server's Whisper",
        },
        CONSENT_PARAM: {
            **recording,
            "description": "The speaker saying VOICE_CONSENT_PHRASE, when the server sets one",
        },
        TYPE_FIELD: {"type": "string", "enum": [AUDIO_SAMPLE_TYPE], "default": AUDIO_SAMPLE_TYPE},
    }
    schema = {"type": "object", "required": [NAME_PARAM, SAMPLE_PARAM], "properties": fields}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}
