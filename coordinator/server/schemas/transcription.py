"""POST /v1/audio/transcriptions and /v1/audio/translations: the form fields, or the same as JSON."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from coordinator.stt.formats import Granularity
from coordinator.stt.formats import ResponseFormat as TranscriptFormat


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class TranscriptionFields(BaseModel):
    """The form fields of POST /v1/audio/transcriptions and /translations besides ``file``."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(
        "", description="whisper-1 (any whisper* or gpt-*transcribe* name), the id from /v1/models, or empty"
    )
    language: str | None = Field(None, description="ISO-639-1 code (en, de); empty: detected")
    prompt: str | None = Field(None, description="Text the speech continues, or words to spell right")
    response_format: TranscriptFormat = "json"
    temperature: float = Field(0.0, ge=0.0, le=1.0)
    stream: bool = Field(
        False,
        description="true: answer text/event-stream, transcript.text.delta events as segments are "
        "decoded, then transcript.text.done (json or text only)",
    )
    # One granularity alone may come as a string ("word"), as a form field always does.
    timestamp_granularities: Annotated[list[Granularity], BeforeValidator(_as_list)] = Field(
        default_factory=list,
        max_length=2,
        description="word and/or segment: the timings verbose_json carries (default: segment)",
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, data: object) -> object:
        # Clients send unset fields as empty strings (Open WebUI's form: language="") or nulls.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value not in ("", None)}
        return data


class InputAudio(BaseModel):
    """The audio of a JSON transcription request (Open WebUI's AUDIO_STT_OPENAI_API_REQUEST_FORMAT=json)."""

    data: str = Field(description="The audio file, base64 (a data: URL too)")
    format: str | None = Field(
        None, description="wav, mp3, ogg, webm, m4a, flac...: a hint only, the bytes are probed"
    )


class TranscriptionJSONRequest(TranscriptionFields):
    """The same request as a JSON body, the audio base64 in ``input_audio``."""

    input_audio: InputAudio
