"""GET /v1/status: what the browser page shows, answered while the models load too."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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
