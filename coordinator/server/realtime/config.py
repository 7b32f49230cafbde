"""A Realtime session's settings: what ``session.update`` (and ``response.create``'s overrides)
may set, read from both shapes clients send (the GA shape, ``session.audio.input...``, and the beta
one, ``session.turn_detection``, ``input_audio_format: "pcm16"``...), and written back in the shape
the client speaks. Pure: pydantic models and plain data, no I/O.

What this server refuses, with an error naming the fix: audio formats other than 24 kHz pcm16
(G.711 is a telephony codec this server does not decode) and tools (Gemma has no tool calling;
see docs/realtime.md). ``semantic_vad`` is served by the server VAD (the session then says so)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coordinator.engine.sampling import CHAT_TEMPERATURE, MAX_TEMPERATURE
from coordinator.errors import InvalidInputError

# OpenAI's Realtime audio: 16-bit little-endian mono PCM at 24 kHz, both ways.
AUDIO_RATE = 24_000
PCM_FORMAT_BETA = "pcm16"
PCM_FORMAT_GA = "audio/pcm"
# OpenAI's server VAD defaults (documented for server_vad).
VAD_THRESHOLD = 0.5
VAD_PREFIX_PADDING_MS = 300
VAD_SILENCE_MS = 500
# Silero's hysteresis: back to silence this far below the speech threshold.
VAD_HYSTERESIS = 0.15
MAX_SILENCE_MS = 10_000
# semantic_vad's eagerness as the pause that ends a turn: "low" lets the user pause longest.
EAGERNESS_SILENCE_MS = {"low": 1_000, "medium": 700, "auto": 700, "high": 400}
MAX_PREFIX_PADDING_MS = 5_000
SessionKind = Literal["realtime", "transcription"]
# A reply's token cap, or "inf": the server's own cap (MAX_COMPLETION_TOKENS) then applies.
Tokens = Annotated[int, Field(ge=1)] | Literal["inf"]
NO_TOOLS = (
    "this server's chat model has no tool calling: declare no tools (send tools: []), and handle "
    "actions in your client from the transcripts instead"
)


class _Open(BaseModel):
    # Fields this server does not use (tracing, noise_reduction, speed, include...) are accepted
    # and ignored: clients send them routinely, and refusing them would refuse the clients.
    model_config = ConfigDict(extra="ignore")


class TurnDetectionIn(_Open):
    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    prefix_padding_ms: int | None = Field(None, ge=0, le=MAX_PREFIX_PADDING_MS)
    silence_duration_ms: int | None = Field(None, ge=0, le=MAX_SILENCE_MS)
    create_response: bool | None = None
    interrupt_response: bool | None = None


class TranscriptionIn(_Open):
    model: str | None = None
    language: str | None = None
    prompt: str | None = None


class FormatIn(_Open):
    type: str = PCM_FORMAT_GA
    rate: int | None = None


AudioFormat = str | FormatIn


class AudioInputIn(_Open):
    format: AudioFormat | None = None
    transcription: TranscriptionIn | None = None
    turn_detection: TurnDetectionIn | None = None


class AudioOutputIn(_Open):
    format: AudioFormat | None = None
    voice: str | dict[str, Any] | None = None


class AudioIn(_Open):
    input: AudioInputIn | None = None
    output: AudioOutputIn | None = None


class SessionIn(_Open):
    """Every field optional: an update changes only what it names (an explicit null clears
    turn detection or transcription, as OpenAI's does)."""

    type: SessionKind | None = None
    instructions: str | None = None
    # GA
    output_modalities: list[Literal["audio", "text"]] | None = None
    audio: AudioIn | None = None
    max_output_tokens: Tokens | None = None
    # beta (and what a transcription_session.update carries)
    modalities: list[Literal["audio", "text"]] | None = None
    voice: str | dict[str, Any] | None = None
    input_audio_format: AudioFormat | None = None
    output_audio_format: AudioFormat | None = None
    input_audio_transcription: TranscriptionIn | None = None
    turn_detection: TurnDetectionIn | None = None
    max_response_output_tokens: Tokens | None = None
    temperature: float | None = Field(None, ge=0.0, le=MAX_TEMPERATURE)
    tools: list[Any] | None = None


@dataclass(frozen=True)
class TurnDetection:
    threshold: float = VAD_THRESHOLD
    prefix_padding_ms: int = VAD_PREFIX_PADDING_MS
    silence_duration_ms: int = VAD_SILENCE_MS
    create_response: bool = True
    interrupt_response: bool = True


@dataclass(frozen=True)
class Transcription:
    model: str = "whisper-1"  # the name echoed back; this server's recogniser hears either way
    language: str | None = None
    prompt: str | None = None


@dataclass(frozen=True)
class SessionConfig:
    kind: SessionKind = "realtime"
    instructions: str = ""
    voice: str | None = None
    modalities: tuple[str, ...] = ("audio",)
    turn_detection: TurnDetection | None = field(default_factory=TurnDetection)
    transcription: Transcription | None = None
    temperature: float = CHAT_TEMPERATURE
    max_output_tokens: int | None = None  # None: the conversation's default cap


def _fields_set(model: BaseModel, name: str) -> bool:
    return name in model.model_fields_set


def _check_format(value: AudioFormat | None, param: str) -> None:
    if value is None:
        return
    kind, rate = (value, AUDIO_RATE) if isinstance(value, str) else (value.type, value.rate or AUDIO_RATE)
    if kind not in (PCM_FORMAT_BETA, PCM_FORMAT_GA) or rate != AUDIO_RATE:
        raise InvalidInputError(
            f"audio format {kind!r} at {rate} Hz is not one this server speaks: send "
            f"{{'type': '{PCM_FORMAT_GA}', 'rate': {AUDIO_RATE}}} (beta: '{PCM_FORMAT_BETA}'), 16-bit mono PCM",
            param=param,
            code="invalid_value",
        )


def _turn_detection(given: TurnDetectionIn | None, param: str) -> TurnDetection | None:
    if given is None:
        return None
    base = TurnDetection()
    if given.type == "semantic_vad":
        # No model of "has the user finished their thought" here: semantic_vad (LiveKit's default)
        # is served by the server VAD, its eagerness read as how long a pause ends the turn.
        base = replace(base, silence_duration_ms=EAGERNESS_SILENCE_MS[given.eagerness or "auto"])
    return TurnDetection(
        threshold=base.threshold if given.threshold is None else given.threshold,
        prefix_padding_ms=base.prefix_padding_ms
        if given.prefix_padding_ms is None
        else given.prefix_padding_ms,
        silence_duration_ms=base.silence_duration_ms
        if given.silence_duration_ms is None
        else given.silence_duration_ms,
        create_response=base.create_response if given.create_response is None else given.create_response,
        interrupt_response=base.interrupt_response
        if given.interrupt_response is None
        else given.interrupt_response,
    )


def _transcription(given: TranscriptionIn | None) -> Transcription | None:
    if given is None:
        return None
    return Transcription(
        model=given.model or Transcription.model, language=given.language, prompt=given.prompt
    )


def _voice_name(voice: str | dict[str, Any] | None, param: str) -> str | None:
    if voice is None or isinstance(voice, str):
        return voice
    name = voice.get("id")  # GA's custom voice reference: {"id": "voice_..."}
    if not isinstance(name, str):
        raise InvalidInputError("a voice object must carry its name as 'id'", param=param)
    return name


def _tokens(value: Tokens | None) -> int | None:
    return None if value == "inf" else value


# pydantic names the member of a union in an error's location ("constrained-int", "str",
# "FormatIn"): not a field the client sent.
_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "dict", "list"})


def _is_field(part: int | str) -> bool:
    return isinstance(part, int) or (part.isidentifier() and part[:1].islower() and part not in _TYPE_NAMES)


def parse_session(raw: Any, *, param: str = "session") -> SessionIn:
    """The client's session object; an InvalidInputError naming the first bad field."""
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{param} must be an object", param=param)
    try:
        return SessionIn.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join([param, *(str(p) for p in first["loc"] if _is_field(p))])
        raise InvalidInputError(f"{where}: {first['msg']}", param=where) from None


def updated(config: SessionConfig, given: SessionIn, *, param: str = "session") -> SessionConfig:
    """``config`` with what ``given`` names changed; InvalidInputError for what this server refuses."""
    if given.tools:
        raise InvalidInputError(NO_TOOLS, param=f"{param}.tools", code="tools_not_supported")
    audio_in = given.audio.input if given.audio is not None else None
    audio_out = given.audio.output if given.audio is not None else None
    _check_format(given.input_audio_format, f"{param}.input_audio_format")
    _check_format(given.output_audio_format, f"{param}.output_audio_format")
    changes: dict[str, Any] = {}
    if audio_in is not None:
        _check_format(audio_in.format, f"{param}.audio.input.format")
        if _fields_set(audio_in, "turn_detection"):
            changes["turn_detection"] = _turn_detection(
                audio_in.turn_detection, f"{param}.audio.input.turn_detection"
            )
        if _fields_set(audio_in, "transcription"):
            changes["transcription"] = _transcription(audio_in.transcription)
    if audio_out is not None:
        _check_format(audio_out.format, f"{param}.audio.output.format")
        if audio_out.voice is not None:
            changes["voice"] = _voice_name(audio_out.voice, f"{param}.audio.output.voice")
    if _fields_set(given, "turn_detection"):
        changes["turn_detection"] = _turn_detection(given.turn_detection, f"{param}.turn_detection")
    if _fields_set(given, "input_audio_transcription"):
        changes["transcription"] = _transcription(given.input_audio_transcription)
    if given.voice is not None:
        changes["voice"] = _voice_name(given.voice, f"{param}.voice")
    if given.type is not None:
        changes["kind"] = given.type
    if given.instructions is not None:
        changes["instructions"] = given.instructions
    modalities = given.output_modalities or given.modalities
    if modalities:
        # Beta clients ask for ["audio", "text"]: audio with its transcript, as GA's ["audio"] is.
        changes["modalities"] = ("audio",) if "audio" in modalities else ("text",)
    if given.temperature is not None:
        changes["temperature"] = given.temperature
    for name in ("max_output_tokens", "max_response_output_tokens"):
        if _fields_set(given, name):
            changes["max_output_tokens"] = _tokens(getattr(given, name))
    return replace(config, **changes)


def _format(beta: bool) -> Any:
    return PCM_FORMAT_BETA if beta else {"type": PCM_FORMAT_GA, "rate": AUDIO_RATE}


def _turn_detection_out(turn: TurnDetection | None) -> dict[str, Any] | None:
    if turn is None:
        return None
    return {"type": "server_vad", "idle_timeout_ms": None, **turn.__dict__}


def _transcription_out(transcription: Transcription | None) -> dict[str, Any] | None:
    return None if transcription is None else dict(transcription.__dict__)


def session_object(config: SessionConfig, *, session_id: str, model: str, beta: bool) -> dict[str, Any]:
    """The session as ``session.created`` / ``session.updated`` carry it, in the client's shape."""
    tokens: int | str = "inf" if config.max_output_tokens is None else config.max_output_tokens
    if beta:
        return {
            "id": session_id,
            "object": "realtime.session" if config.kind == "realtime" else "realtime.transcription_session",
            "model": model,
            "modalities": ["audio", "text"] if "audio" in config.modalities else ["text"],
            "instructions": config.instructions,
            "voice": config.voice,
            "input_audio_format": PCM_FORMAT_BETA,
            "output_audio_format": PCM_FORMAT_BETA,
            "input_audio_transcription": _transcription_out(config.transcription),
            "turn_detection": _turn_detection_out(config.turn_detection),
            "tools": [],
            "tool_choice": "auto",
            "temperature": config.temperature,
            "max_response_output_tokens": tokens,
        }
    audio_input = {
        "format": _format(beta),
        "transcription": _transcription_out(config.transcription),
        "noise_reduction": None,
        "turn_detection": _turn_detection_out(config.turn_detection),
    }
    if config.kind == "transcription":
        return {
            "type": "transcription",
            "object": "realtime.transcription_session",
            "id": session_id,
            "audio": {"input": audio_input},
            "include": None,
        }
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": list(config.modalities),
        "instructions": config.instructions,
        "audio": {
            "input": audio_input,
            "output": {"format": _format(beta), "voice": config.voice, "speed": 1.0},
        },
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": tokens,
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
    }
