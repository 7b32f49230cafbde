"""What the OpenAPI document shows where FastAPI cannot derive it from the routes: the media
types a 200 carries (audio, SSE events, transcripts) and the transcription routes' request body,
which they read themselves (a multipart form, or the same fields as JSON)."""

from __future__ import annotations

from typing import Any, get_args

from coordinator.audio.encoders import media_type_of
from coordinator.server.chat_events import EVENT_TYPES as CHAT_EVENT_TYPES
from coordinator.server.schemas.speech import AudioFormat
from coordinator.server.transcription_request import AUDIO_FIELD, JSON_MEDIA_TYPE, MULTIPART
from coordinator.service.transcription import FILE_PARAM, GRANULARITIES_PARAM
from coordinator.stt.formats import RESPONSE_FORMATS

_BINARY = {"type": "string", "format": "binary"}
_TEXT = {"type": "string"}
SSE_MEDIA_TYPE = "text/event-stream"

# A text/event-stream schema describes one event (its fields, as a client parses them).
_SSE_EVENT: dict[str, Any] = {"type": "object", "required": ["data"], "properties": {"data": _TEXT}}


def _json_events(types: list[str]) -> dict[str, Any]:
    """An SSE event whose data is a JSON object with a ``type`` among ``types``."""
    return {
        **_SSE_EVENT,
        "properties": {
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {"type": {"enum": types}},
                },
            }
        },
    }


# Speech events: OpenAI's speech.audio.delta / speech.audio.done, speech.audio.heard (word
# timings and checks, docs/timings.md), or an error.
_SPEECH_EVENT = _json_events(["speech.audio.delta", "speech.audio.heard", "speech.audio.done", "error"])
# /chat's events (stream_format "sse", chat_events.py): the reply's text and speech.
_CHAT_EVENT = _json_events(list(CHAT_EVENT_TYPES))
_SPEECH_TYPES = {media_type_of(fmt): _BINARY for fmt in get_args(AudioFormat)} | {
    SSE_MEDIA_TYPE: _SPEECH_EVENT
}
# A transcript: JSON (json, verbose_json) or text (text, srt, vtt); with stream=true, OpenAI's
# transcript.text.delta / transcript.text.done events, or an error.
_TRANSCRIPT_TYPES: dict[str, dict[str, Any]] = {
    "application/json": {"type": "object"},
    "text/plain": _TEXT,
    "application/x-subrip": _TEXT,
    "text/vtt": _TEXT,
    SSE_MEDIA_TYPE: _json_events(["transcript.text.delta", "transcript.text.done", "error"]),
}
# What a 200 carries where it is not (only) JSON.
SUCCESS_CONTENT: dict[str, dict[str, dict[str, Any]]] = {
    "/v1/audio/speech": _SPEECH_TYPES,
    "/v1/audio/speech/stream": _SPEECH_TYPES,
    "/tts": {"audio/wav": _BINARY},
    # text/plain: stream_text; events: stream_format "sse".
    "/chat": {"audio/wav": _BINARY, "text/plain": _TEXT, SSE_MEDIA_TYPE: _CHAT_EVENT},
    "/v1/audio/transcriptions": _TRANSCRIPT_TYPES,
    "/v1/audio/translations": _TRANSCRIPT_TYPES,
    # Text streams end with the non-JSON event ``[DONE]``.
    "/v1/chat/completions": {"application/json": {"type": "object"}, SSE_MEDIA_TYPE: _SSE_EVENT},
    "/v1/completions": {"application/json": {"type": "object"}, SSE_MEDIA_TYPE: _SSE_EVENT},
}


def transcription_body(*, with_language: bool) -> dict[str, Any]:
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
        GRANULARITIES_PARAM: {
            "type": "array",
            "items": {"type": "string", "enum": ["word", "segment"]},
            "maxItems": 2,
            "description": "Timings in verbose_json: word, segment (the default), or both "
            f"(also accepted as {GRANULARITIES_PARAM}[])",
        },
    }
    if with_language:
        fields["language"] = {"type": "string", "description": "ISO-639-1 code; empty: detected"}
    multipart = {
        FILE_PARAM: {"type": "string", "format": "binary", "description": "The audio file"},
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
                MULTIPART: {"schema": {"type": "object", "required": [FILE_PARAM], "properties": multipart}},
                JSON_MEDIA_TYPE: {
                    "schema": {"type": "object", "required": [AUDIO_FIELD], "properties": as_json}
                },
            },
        }
    }
