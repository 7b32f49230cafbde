"""Cloned-voice streams in `coordinator bench`: first audio with a 10 s and a 30 s reference.

A custom voice's prompt opens with its reference recordings as audio tokens (about 82 a second),
so its first audio costs a prefill the built-in voices do not pay. The engine keeps that prefix's
KV cells in the slot that spoke it (GenerationRequest.keep_prefix): the first request of a voice
prefills the whole reference ("cold"), later ones only their own text ("warm"). Both are measured
here through the real server, per reference length, one stream at a time, as a listener hears them.

The voices are made in the server's own store (a temporary VOICES_DIR the sweep gives it), their
codes from the runtime's SNAC encoder, from a voiced-like tone: the cost depends on the reference's
length, not on what it says, and no recording ships with the package. Skipped, saying why, when
no cloning model is loaded (ORPHEUS_MODELS=...,pretrained).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from typing import Any

import httpx
import numpy as np

from coordinator.bench.load import SAMPLE_RATE, one_stream
from coordinator.orpheus.clone import ClonedVoice, ReferenceSample

logger = logging.getLogger(__name__)

REFERENCE_SECONDS = (10.0, 30.0)
WARM_RUNS = 3
# What the reference "says": its transcript is part of the prompt, about as long as 10 s of speech.
REFERENCE_TRANSCRIPT = (
    "This is what my voice sounds like when I read aloud, slowly and clearly, "
    "so that the server can learn how I speak."
)
# A voiced-like tone: a pitch near a speaking voice's, a syllable-rate loudness contour.
TONE_HZ = 170.0
SYLLABLE_HZ = 2.5
TONE_LEVEL = 0.3
BENCH_VOICE_PREFIX = "voice_be0c"  # + hex: a valid id no user's voice is likely to have
STREAM_TIMEOUT_S = 3600.0


def reference_audio(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = (1 + np.sin(2 * np.pi * SYLLABLE_HZ * t)) / 2
    return (TONE_LEVEL * envelope * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)


def _bench_voice(runtime: Any, seconds: float) -> ClonedVoice:
    """A custom voice with a ``seconds`` reference, encoded by the runtime and kept in its store."""
    audio = reference_audio(seconds)
    frames = runtime.encode_reference(audio)
    voice_id = f"{BENCH_VOICE_PREFIX}{int(seconds * 1000):012x}"
    sample = ReferenceSample(transcript=REFERENCE_TRANSCRIPT, frames=frames)
    voice = ClonedVoice(
        id=voice_id, name=f"bench reference {seconds:.0f} s", samples=(sample,), created_at=int(time.time())
    )
    runtime.voices.add(voice, [audio])
    return voice


async def _first_audio(url: str, voice: ClonedVoice, max_tokens: int, runs: int) -> list[dict]:
    results = []
    async with httpx.AsyncClient(base_url=url, timeout=STREAM_TIMEOUT_S) as client:
        for index in range(runs):
            stream = await one_stream(client, index, "speech", max_tokens, seed=index, voice=voice.id)
            results.append(
                {"first_audio_s": stream.first_audio_s, "rtf": stream.rtf, "stalled": stream.stalled}
            )
    return results


def cloned_first_audio(
    url: str,
    runtime: Any,
    *,
    max_tokens: int,
    deadline: float,
    references_s: tuple[float, ...] = REFERENCE_SECONDS,
) -> dict:
    """The report's ``cloned_voices`` section (JSON-ready)."""
    cloning = runtime.speech.cloning
    if cloning is None:
        return {
            "skipped": "no cloning model loaded: set ORPHEUS_MODELS=...,pretrained to measure custom voices"
        }
    rows = []
    for seconds in references_s:
        if time.monotonic() >= deadline:
            rows.append({"reference_s": seconds, "skipped": "time budget"})
            continue
        started = time.monotonic()
        voice = _bench_voice(runtime, seconds)
        encode_s = time.monotonic() - started
        try:
            # One cold request (the reference is prefilled), then warm ones (its KV cells reused).
            runs = asyncio.run(_first_audio(url, voice, max_tokens, 1 + WARM_RUNS))
        finally:
            runtime.voices.delete(voice.id)
        cold, warm = runs[0], runs[1:]
        warm_first = [run["first_audio_s"] for run in warm]
        rows.append(
            {
                "reference_s": seconds,
                "reference_tokens": int(voice.samples[0].frames.size),
                "encode_s": encode_s,
                "first_audio_s_cold": cold["first_audio_s"],
                "first_audio_s_warm_p50": statistics.median(warm_first),
                "rtf_p50": statistics.median(run["rtf"] for run in runs),
                "stalled": sum(run["stalled"] for run in runs),
                "runs": runs,
            }
        )
        logger.info(
            "cloned voice, %.0f s reference: first audio %.0f ms cold, %.0f ms warm (p50)",
            seconds,
            cold["first_audio_s"] * 1000,
            statistics.median(warm_first) * 1000,
        )
    return {"model": cloning.model_id, "references": rows}
