"""POST /chat: the voice assistant (a text or spoken turn in, a spoken reply out)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from coordinator.engine.sampling import CHAT_TEMPERATURE, MAX_SEED, MAX_TEMPERATURE, MIN_SEED


class HistoryMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class VoiceChatRequest(BaseModel):
    """POST /chat (the voice assistant of the seed guide)."""

    model_config = ConfigDict(extra="ignore")

    message: str | None = Field(None, description="The user's turn as text (or send audio)")
    audio: str | None = Field(
        None,
        description="The user's turn as speech: a base64 audio file (wav, mp3, ogg, webm, m4a, flac), "
        "transcribed first; the transcript comes back in the X-Transcript header",
    )
    language: str | None = Field(None, description="Language of audio (ISO-639-1); default: detected")
    voice: str | None = None
    history: list[HistoryMessage] = Field(default_factory=list)
    stream_text: bool = False
    stream_format: Literal["audio", "sse"] = Field(
        "audio",
        description="audio: one streaming WAV; sse: events carrying the reply's text as it is "
        "written and its speech as base64 16-bit 24 kHz PCM (what the browser page uses)",
    )
    max_tokens: int | None = Field(None, ge=1, description="Limit of the chat reply, in tokens (256)")
    temperature: float = Field(CHAT_TEMPERATURE, ge=0.0, le=MAX_TEMPERATURE)
    seed: int | None = Field(None, ge=MIN_SEED, le=MAX_SEED)
    normalize: bool = Field(
        True,
        description="Speak the reply made for the ear: markdown (emphasis, lists, headings, code, "
        "tables, links) and numbers, dates, symbols read the way a person would; false: spoken as "
        "written. The reply's text the client receives is the model's own either way",
    )

    timings: bool | None = Field(
        None,
        description="With stream_format sse: time each word of the reply (as the model wrote it) in "
        "its speech, a response.audio.heard event after each utterance. Unset: SPEECH_TIMINGS",
    )
    check: bool | None = Field(
        None, description="With stream_format sse: check each utterance by ear. Unset: SPEECH_CHECK"
    )

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty: say something")
        return value

    @model_validator(mode="after")
    def _one_turn(self) -> VoiceChatRequest:
        if (self.message is None) == (self.audio is None):
            raise ValueError(
                "send the user's turn as either message (text) or audio (base64), not both or neither"
            )
        return self
