"""Where a level's time went, from the runtime's own counters read before and after it: the Orpheus
engine's step time by batch size (llama_decode, logits read + sampling, Python) and SNAC's calls by
batch size."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from coordinator.bench.load import SAMPLE_RATE, SAMPLES_PER_FRAME


def engine_profile(before: dict, after: dict) -> list[dict]:
    """Per batch size (sequences sampled in a step): ms per step and its parts, over one level."""
    rows = []
    for size in sorted(after):
        a, b = after[size], before.get(size)
        steps = a.steps - (b.steps if b else 0)
        if steps <= 0:
            continue

        def per_step(name: str, a: Any = a, b: Any = b, steps: int = steps) -> float:
            return (getattr(a, name) - (getattr(b, name) if b else 0.0)) / steps * 1000

        step, decode, sample = per_step("step_s"), per_step("decode_s"), per_step("sample_s")
        rows.append(
            {
                "batch": size,
                "steps": steps,
                "step_ms": step,
                "llama_decode_ms": decode,
                "logits_and_sampling_ms": sample,
                "python_ms": step - decode - sample,
            }
        )
    return rows


def snac_profile(before: dict, after: dict) -> list[dict]:
    """Per batch size (windows per call): calls, ms per call, decode seconds per audio second."""
    rows = []
    for size in sorted(after):
        a, b = after[size], before.get(size)
        calls = a.calls - (b.calls if b else 0)
        if calls <= 0:
            continue
        seconds = a.seconds - (b.seconds if b else 0.0)
        frames = a.frames - (b.frames if b else 0)
        audio_s = frames * SAMPLES_PER_FRAME / SAMPLE_RATE
        rows.append(
            {
                "windows_per_call": size,
                "calls": calls,
                "ms_per_call": seconds / calls * 1000,
                "decode_s_per_audio_s": seconds / audio_s if audio_s else None,
            }
        )
    return rows


def snapshot(runtime: Any) -> tuple[dict, dict, float]:
    """The engine's and SNAC's tallies by batch size, and SNAC's busy seconds, as of now."""
    engine = {k: copy_tally(v) for k, v in dict(runtime.tts.engine.stats.by_batch).items()}
    snac = {k: copy_tally(v) for k, v in dict(runtime.snac.stats.by_batch).items()}
    return engine, snac, runtime.snac.stats.busy_s


def copy_tally(tally: Any) -> Any:
    # A counter the engine thread keeps adding to: copied, so that "before" stays as it was.
    return type(tally)(**asdict(tally))
