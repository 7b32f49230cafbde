"""POST /v1/audio/speech (OpenAI's shape, plus Orpheus sampling extras) and the seed guide's /tts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from coordinator.engine.sampling import (
    MAX_REPETITION_PENALTY,
    MAX_SEED,
    MAX_TEMPERATURE,
    MIN_SEED,
)
from coordinator.orpheus.voices import voice_id

MAX_SPEECH_INPUT_CHARS = 4096  # OpenAI's limit for /v1/audio/speech
MIN_SPEED, MAX_SPEED = 0.25, 4.0

AudioFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


class _OrpheusSampling(BaseModel):
    """Orpheus sampling fields a speech request may set; unset ones keep the server's defaults."""

    model_config = ConfigDict(extra="ignore")

    # The sampler's own ranges, stated here too so that the API document shows them.
    temperature: float | None = Field(None, ge=0.0, le=MAX_TEMPERATURE)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    repetition_penalty: float | None = Field(None, gt=0.0, le=MAX_REPETITION_PENALTY)
    max_tokens: int | None = Field(None, ge=1)
    seed: int | None = Field(None, ge=MIN_SEED, le=MAX_SEED)


class SpeechRequest(_OrpheusSampling):
    """POST /v1/audio/speech, as OpenAI defines it (plus Orpheus sampling extras)."""

    model: str = Field(
        description="An Orpheus model id from /v1/models (or its key or language: fr), or tts-1, "
        "tts-1-hd, gpt-4o-mini-tts, orpheus: then the voice picks the model"
    )
    input: str = Field(max_length=MAX_SPEECH_INPUT_CHARS, description="Text to speak; emotion tags allowed")
    voice: Annotated[str, BeforeValidator(voice_id)] = Field(
        description="One of /v1/audio/voices (an OpenAI voice name is an alias of one), as a string "
        'or as {"id": "<voice>"}; `model/voice` (fr/pierre) names the model too, for a voice two '
        "models share",
        json_schema_extra={
            "anyOf": [{"type": "string"}, {"type": "object", "properties": {"id": {"type": "string"}}}]
        },
    )
    response_format: AudioFormat = "mp3"
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED)
    stream_format: Literal["audio", "sse"] = "audio"
    instructions: str | None = Field(
        None, description="Accepted for compatibility; Orpheus uses emotion tags"
    )
    normalize: bool = Field(
        True,
        description="Read numbers, money, dates, units and symbols the way a person would (in the "
        "voice's language); false: the text is spoken exactly as written. The server's "
        "NORMALIZE_TEXT=0 turns it off for every request",
    )
    timings: bool | None = Field(
        None,
        description="Time each word of the input in the audio (Whisper listens to each utterance); "
        "with stream_format sse, a speech.audio.heard event follows each utterance. Unset: the "
        "server's SPEECH_TIMINGS",
    )
    check: bool | None = Field(
        None,
        description="Check each utterance by ear against its text (word error; words missing, "
        "repeated or added), reported in speech.audio.heard. Unset: the server's SPEECH_CHECK",
    )
    retakes: int | None = Field(
        None,
        ge=0,
        description="Generate an utterance whose check fails again, at most this many times (up to "
        "SPEECH_RETAKES), keeping the better take; delays the audio after it. Unset: none",
    )

    @field_validator("input")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty: give the text to speak")
        return value


# The seed guide's /tts defaults (max_tokens: the server's TTS_MAX_TOKENS, 2000 by default).
TTS_DEFAULTS = {"temperature": 0.4, "top_p": 0.9, "repetition_penalty": 1.1}


class SeedTTSRequest(_OrpheusSampling):
    """GET|POST /tts (the seed guide's original endpoint)."""

    prompt: str = Field(min_length=1, max_length=MAX_SPEECH_INPUT_CHARS)
    voice: str | None = None
    temperature: float | None = Field(TTS_DEFAULTS["temperature"], ge=0.0, le=MAX_TEMPERATURE)
    top_p: float | None = Field(TTS_DEFAULTS["top_p"], gt=0.0, le=1.0)
    repetition_penalty: float | None = Field(
        TTS_DEFAULTS["repetition_penalty"], gt=0.0, le=MAX_REPETITION_PENALTY
    )


class CaptionedSpeechRequest(SpeechRequest):
    """POST /v1/audio/speech/captioned: the speech request, answered as one JSON document."""

    stream_format: Literal["audio"] = Field(
        "audio", description="Only audio: the answer is one JSON document once the speech is complete"
    )
    timings: bool | None = Field(
        True, description="Time each word of the input (the point of this route; false: checks only)"
    )


class WordTimestamp(BaseModel):
    """Kokoro-FastAPI's captioned_speech word: a word of the input as written, in seconds."""

    word: str
    start_time: float
    end_time: float


class Captions(BaseModel):
    vtt: str = Field(description="WebVTT (text/vtt)")
    srt: str = Field(description="SubRip (application/x-subrip)")


class CaptionedSpeechResponse(BaseModel):
    """Kokoro-FastAPI's captioned_speech answer (audio, audio_format, timestamps), with each
    utterance as heard (its check, its words' places in the input), the captions and the usage."""

    audio: str = Field(description="The whole audio file, base64")
    audio_format: AudioFormat
    duration: float = Field(description="Seconds of audio")
    timestamps: list[WordTimestamp] = Field(description="Every word of the input as written, in order")
    utterances: list[dict[str, object]] = Field(
        description="Each utterance as heard: index, text (spoken form), original_range, start, end, "
        "words (with char_start/char_end into the input), check, takes (docs/timings.md)"
    )
    captions: Captions
    usage: dict[str, int]
