"""Request and response schemas of the HTTP API (OpenAI's shapes). No torch, no llama here."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from coordinator.engine.sampling import (
    CHAT_TOP_P,
    MAX_REPETITION_PENALTY,
    MAX_SEED,
    MAX_TEMPERATURE,
    MIN_SEED,
    SamplingParams,
)
from coordinator.orpheus.voices import voice_id
from coordinator.stt.formats import Granularity
from coordinator.stt.formats import ResponseFormat as TranscriptFormat
from coordinator.tts.synthesis import sampling_with

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

    def to_sampling_params(self, base: SamplingParams, max_tokens: int) -> SamplingParams:
        """``base`` (the server's Orpheus defaults) with the fields this request sets;
        ``max_tokens``: the limit the route settled on (see limits.py)."""
        return sampling_with(
            base,
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            repetition_penalty=self.repetition_penalty,
            seed=self.seed,
        )


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

    @field_validator("input")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty: give the text to speak")
        return value


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


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """Every error, in OpenAI's shape (built in server/errors.py; this documents it)."""

    error: ErrorDetail


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
    """GET /v1/audio/voices/{model}, in the shape SillyTavern's TTS WebUI provider reads."""

    voices: list[VoiceOption]


class _SamplingFields(BaseModel):
    """OpenAI sampling fields shared by chat and text completions."""

    model_config = ConfigDict(extra="ignore")

    model: str
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=MAX_TEMPERATURE)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=MIN_SEED, le=MAX_SEED)
    stream: bool = False
    n: int = Field(1, ge=1, le=1, description="Only one choice per request is supported")

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else self.stop

    def sampling(self, max_tokens: int) -> SamplingParams:
        """Engine parameters; ``max_tokens`` is the limit the route settled on (see limits.py)."""
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
        )


class ChatContentPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessageIn(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str | list[ChatContentPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class ChatCompletionRequest(_SamplingFields):
    messages: list[ChatMessageIn] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)

    def requested_max_tokens(self) -> tuple[int | None, str]:
        """The token limit asked for and the field that asked: OpenAI's newer
        ``max_completion_tokens`` wins over the deprecated ``max_tokens``."""
        if self.max_completion_tokens is not None:
            return self.max_completion_tokens, "max_completion_tokens"
        return self.max_tokens, "max_tokens"


class CompletionRequest(_SamplingFields):
    prompt: str


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
    temperature: float = Field(0.7, ge=0.0, le=MAX_TEMPERATURE)
    seed: int | None = Field(None, ge=MIN_SEED, le=MAX_SEED)

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

    def to_sampling_params(self, max_tokens: int) -> SamplingParams:
        return SamplingParams(
            max_tokens=max_tokens, temperature=self.temperature, top_p=CHAT_TOP_P, seed=self.seed
        )


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


ServerState = Literal["ready", "loading", "failed", "shutting_down"]
ModelRoleName = Literal["tts", "llm", "codec", "stt"]


class LoadedModel(BaseModel):
    """One loaded model and its engine's load (the codec has no engine: its counts are 0)."""

    id: str
    role: ModelRoleName
    name: str
    quantization: str
    device: str = Field(description="Where it runs: gpu or cpu")
    active: int = Field(default=0, description="Sequences being generated now")
    queued: int = Field(default=0, description="Requests waiting for a sequence slot")
    capacity: int = Field(default=0, description="Sequence slots (MAX_CONCURRENT_STREAMS)")


class SpeechDefaults(BaseModel):
    voice: str
    temperature: float
    top_p: float
    repetition_penalty: float
    max_tokens: int


class StatusLimits(BaseModel):
    max_input_chars: int
    max_completion_tokens: int
    max_history_messages: int


class ServerStatus(BaseModel):
    """GET /v1/status: what the browser page shows. Answered while the models load too."""

    status: ServerState
    message: str | None = Field(None, description="Why the server is not ready, when it is not")
    version: str
    models: list[LoadedModel] = Field(default_factory=list)
    limits: StatusLimits
    speech_defaults: SpeechDefaults | None = None
