"""Memory planned before anything loads: every model's weights, KV cache and compute buffers
against what the device has, so a selection that cannot fit is refused at start with the numbers
and the fix, instead of failing half way through a multi-GB load (or at the first busy minute).

Weights: the GGUF file's size (llama.cpp maps it whole). KV cache: f16 K and V for every token of
every sequence slot (N_CTX x MAX_CONCURRENT_STREAMS; a cloning model's slots also hold a custom
voice's reference prefix, VOICE_REFERENCE_MAX_S of it), from the model's shape in its header.
Compute buffers: an estimate (the logits of a full batch plus the widest activations); only a GPU
run shows the real figure, so MEMORY_BUDGET_GB can overrule the measured budget either way.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from coordinator.config.settings import Settings
from coordinator.engine.batch_engine import DEFAULT_N_BATCH
from coordinator.engine.gguf_header import ModelShape, read_shape
from coordinator.errors import CoordinatorError
from coordinator.orpheus.clone import CLONE_SAMPLE_RATE, SAMPLES_PER_FRAME
from coordinator.orpheus.layout import FRAME_TOKENS

logger = logging.getLogger(__name__)

GB = 1e9
KV_BYTES_PER_VALUE = 2  # llama.cpp's default cache type is f16
FLOAT32_BYTES = 4
# Activations alive at once in a decode step, in units of n_embd floats per batch token: the
# residual, norms, Q/K/V, attention output and the FFN's gate/up pair. An estimate, not measured.
ACTIVATION_WIDTHS = 16
# SNAC's decoder activations at the largest batch (SNAC_BATCH_FRAMES=512 on a GPU), beside its
# weights. An estimate, not measured.
SNAC_ACTIVATION_BYTES = 512 * 1024 * 1024
# /proc/meminfo's estimate of what can be allocated without swapping.
MEMINFO = Path("/proc/meminfo")
# A cloning model's prompt carries, before the text, each reference sample as a human turn (its
# transcript) and an AI turn (its audio tokens). Transcript tokens per second of speech: generous
# (fast speech is about 4 words, 5-6 Llama tokens, a second), so a quick talker still fits.
TRANSCRIPT_TOKENS_PER_SECOND = 8
# The special tokens framing one reference pair: start/end of human, BOS, end of text, start/end
# of AI, start/end of speech (coordinator/orpheus/clone.py's layout), with room to spare.
REFERENCE_FRAMING_TOKENS = 12


class InsufficientMemoryError(CoordinatorError):
    """The selected models cannot fit the device's memory."""

    code = "insufficient_memory"


def reference_tokens(settings: Settings) -> int:
    """Most prompt tokens a custom voice's references take: VOICE_REFERENCE_MAX_S of audio (7
    tokens per SNAC frame, about 82 a second), their transcripts, and the framing of
    VOICE_MAX_SAMPLES pairs."""
    frames = math.ceil(settings.voice_reference_max_s * CLONE_SAMPLE_RATE / SAMPLES_PER_FRAME)
    transcript = math.ceil(settings.voice_reference_max_s * TRANSCRIPT_TOKENS_PER_SECOND)
    return frames * FRAME_TOKENS + transcript + settings.voice_max_samples * REFERENCE_FRAMING_TOKENS


def context_per_sequence(settings: Settings, *, clones: bool) -> int:
    """Context each sequence of a model's engine gets: N_CTX (the text and TTS_MAX_TOKENS, checked
    at start), plus the reference prefix on a cloning model."""
    return settings.n_ctx + (reference_tokens(settings) if clones else 0)


@dataclass(frozen=True)
class EnginePlan:
    """What one model on its batch engine takes."""

    name: str
    weights: int
    kv_cache: int
    compute: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute


def engine_plan(
    name: str, path: Path, *, n_ctx_per_seq: int, sequences: int, n_batch: int = DEFAULT_N_BATCH
) -> EnginePlan:
    shape: ModelShape = read_shape(path)
    kv = shape.kv_values_per_token * KV_BYTES_PER_VALUE * n_ctx_per_seq * sequences
    compute = n_batch * (shape.n_vocab + ACTIVATION_WIDTHS * shape.n_embd) * FLOAT32_BYTES
    return EnginePlan(name, path.stat().st_size, kv, compute)


@dataclass(frozen=True)
class MemoryPlan:
    engines: tuple[EnginePlan, ...]
    snac: int
    budget: int
    budget_source: str  # where the budget came from, for the message

    @property
    def total(self) -> int:
        return sum(engine.total for engine in self.engines) + self.snac

    @property
    def fits(self) -> bool:
        return self.total <= self.budget

    def describe(self) -> str:
        parts = [
            f"{e.name} {e.total / GB:.2f} GB (weights {e.weights / GB:.2f} + KV cache {e.kv_cache / GB:.2f}"
            f" + compute {e.compute / GB:.2f})"
            for e in self.engines
        ]
        parts.append(f"SNAC {self.snac / GB:.2f} GB")
        return (
            f"{self.total / GB:.2f} GB planned: "
            + "; ".join(parts)
            + (f"; budget {self.budget / GB:.2f} GB ({self.budget_source})")
        )


def check_plan(plan: MemoryPlan, settings: Settings) -> None:
    """Raise InsufficientMemoryError with the numbers and the ways out when the plan does not fit."""
    if plan.fits:
        logger.info("memory plan fits: %s", plan.describe())
        return
    per_model_kv = max(plan.engines, key=lambda e: e.kv_cache)
    raise InsufficientMemoryError(
        f"the selected models do not fit: {plan.describe()}. Load fewer Orpheus models "
        f"(ORPHEUS_MODELS={','.join(settings.orpheus_models)}), lower N_CTX "
        f"({settings.n_ctx}) or MAX_CONCURRENT_STREAMS ({settings.max_concurrent_streams}) (the KV cache "
        f"is most of it: {per_model_kv.name} takes {per_model_kv.kv_cache / GB:.2f} GB), or pick a "
        "smaller quantization; if the budget is wrong, set MEMORY_BUDGET_GB"
    )


def _host_available() -> int | None:
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_budget(settings: Settings) -> tuple[int, str] | None:
    """Bytes the models may take, and where that figure came from; None when unknown."""
    if settings.memory_budget_gb is not None:
        return int(settings.memory_budget_gb * GB), "MEMORY_BUDGET_GB"
    import llama_cpp

    if settings.n_gpu_layers != 0 and llama_cpp.llama_supports_gpu_offload():
        import torch

        if torch.cuda.is_available():
            free, _total = torch.cuda.mem_get_info()
            return int(free), "free GPU memory"
    available = _host_available()
    if available is None:
        return None
    return available, "available host memory"


def _directory_bytes(directory: Path) -> int:
    if not directory.is_dir():
        return 0
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def snac_bytes(snac_dir: Path) -> int:
    return _directory_bytes(snac_dir) + SNAC_ACTIVATION_BYTES


def check_memory_plan(
    settings: Settings,
    orpheus: Sequence[tuple[str, Path, bool]],
    llm_path: Path,
    snac_dir: Path,
    *,
    stt_dir: Path | None = None,
) -> MemoryPlan | None:
    """Plan every engine the server loads (each Orpheus model, given as key, file and whether it
    clones, and the chat model, and Whisper's weights when it is installed) against the budget;
    raise InsufficientMemoryError when it does not fit. None when no budget is known."""
    budget = memory_budget(settings)
    if budget is None:
        logger.warning("no memory budget known (set MEMORY_BUDGET_GB): loading without a plan")
        return None
    sequences = settings.max_concurrent_streams
    engines = [
        engine_plan(
            f"orpheus {key}",
            path,
            n_ctx_per_seq=context_per_sequence(settings, clones=clones),
            sequences=sequences,
        )
        for key, path, clones in orpheus
    ]
    engines.append(engine_plan("llm", llm_path, n_ctx_per_seq=settings.n_ctx, sequences=sequences))
    if stt_dir is not None and stt_dir.is_dir():
        # Whisper keeps no KV cache across requests; its decoding buffers are small beside it.
        engines.append(EnginePlan("stt", _directory_bytes(stt_dir), 0, 0))
    plan = MemoryPlan(tuple(engines), snac_bytes(snac_dir), *budget)
    check_plan(plan, settings)
    return plan
