"""The listings: GET /v1/models, /v1/audio/models, /v1/audio/voices and /v1/audio/voices/{name}."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str
    quantization: str
    license: str
    languages: list[str] | None = Field(default=None, description="What an Orpheus model speaks (ISO 639-1)")
    voices: list[str] | None = Field(default=None, description="An Orpheus model's voices")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class VoiceCard(BaseModel):
    """One voice, as Open WebUI reads it (``id``, ``name``), with what a page needs to group the
    voices by model and language and to hide the aliases."""

    id: str = Field(
        description="What to send as voice, exactly (case and script matter); `key/voice` for a "
        "voice several loaded models share"
    )
    name: str
    model: str = Field(description="The speech model (from /v1/audio/models) that speaks it")
    language: str = Field(description="ISO 639-1 code of what the voice speaks")
    alias_of: str | None = Field(None, description="For an OpenAI voice name: the voice that speaks it")
    default: bool = False
    custom: bool = Field(
        False, description="A custom (cloned) voice: its id is voice_<hex> (POST /v1/audio/voices)"
    )


class VoiceList(BaseModel):
    """GET /v1/audio/voices: each loaded model's voices (the default model first), then the
    OpenAI names aliased to the default model's."""

    voices: list[VoiceCard]
    default: str


class SpeechModelCard(BaseModel):
    id: str
    alias_of: str | None = Field(None, description="For an OpenAI model name: the model that serves it")
    languages: list[str] | None = Field(default=None, description="What an Orpheus model speaks (ISO 639-1)")


class SpeechModelList(BaseModel):
    """GET /v1/audio/models, in the shape Open WebUI reads."""

    models: list[SpeechModelCard]


class VoiceOption(BaseModel):
    value: str
    label: str


class VoiceOptions(BaseModel):
    """GET /v1/audio/voices/{name} (a model), in the shape SillyTavern's TTS WebUI provider reads."""

    voices: list[VoiceOption]
