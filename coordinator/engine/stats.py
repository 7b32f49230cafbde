"""The engine's counters, kept by its worker thread: what /metrics exports and `coordinator bench`
profiles."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StepTally:
    """Decode steps that sampled one number of sequences: where a step's time goes, for `coordinator
    bench`. ``step_s`` is the whole step; what ``decode_s`` (llama_decode) and ``sample_s`` (logits
    read and sampling) leave of it is Python building the batch."""

    steps: int = 0
    step_s: float = 0.0
    decode_s: float = 0.0
    sample_s: float = 0.0


@dataclass
class EngineStats:
    steps: int = 0
    tokens_sampled: int = 0
    prompt_tokens: int = 0  # prompt tokens decoded (prefilled)
    prompt_tokens_reused: int = 0  # prompt tokens a slot's kept prefix spared from prefilling
    active_sequences: int = 0
    waiting_sequences: int = 0
    finish_reasons: dict[str, int] = field(default_factory=dict)
    by_batch: dict[int, StepTally] = field(default_factory=dict)
