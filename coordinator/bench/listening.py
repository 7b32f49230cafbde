"""What listening to generated speech costs (docs/timings.md): the sweep's concurrent speech
streams again with checking off, with word timings on, and with checking on, side by side in one
run, each doubled (1, 2, 4 ... streams) until the audio comes slower than it plays. Reported per
mode: the most streams held at real time (the sweep's rule: no stall, RTF p95 within the margin),
the most generated faster than real time (RTF p95 below 1), first audio, and how long Whisper was still hearing after the audio ended (the
last utterance's listening outlasts its audio: it is what a timings event waits for).

The speech is streamed (OpenAI's audio stream), so no retakes: checking's cost here is Whisper's
share of the host, which slows every stream beside it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from coordinator.bench.load import run, summarize
from coordinator.bench.report import holds_real_time

logger = logging.getLogger(__name__)

MODES: dict[str, dict[str, bool]] = {
    "off": {"timings": False, "check": False},
    "timings": {"timings": True, "check": False},
    "check": {"timings": True, "check": True},
}
IDLE_POLL_S = 0.05


async def _level(
    url: str, n: int, max_tokens: int, fields: dict[str, bool], app: Any, timeout: float
) -> dict:
    before = _listened(app)
    results, wall_s = await asyncio.wait_for(
        run(url, ["speech"] * n, max_tokens, concurrent=True, extra=fields), timeout=max(timeout, 0.001)
    )
    level = summarize(results, wall_s)
    ended = time.monotonic()
    # Whisper may still be hearing the last utterances (one per stream: the bench's sentences are
    # short): the level ends when it has, so the next one starts on an idle host.
    expected = before + (n if any(fields.values()) else 0)
    while _listened(app) < expected and time.monotonic() - ended < timeout:
        await asyncio.sleep(IDLE_POLL_S)
    level["listening_after_audio_s"] = time.monotonic() - ended
    return level


def _listened(app: Any) -> float:
    """Utterances Whisper has listened to, from the server's metrics."""
    registry = app.state.metrics.registry
    return registry.get_sample_value("orpheus_speech_listen_seconds_count", {"endpoint": "speech"}) or 0.0


def listening_costs(url: str, app: Any, *, max_streams: int, max_tokens: int, deadline: float) -> dict:
    """Each mode's levels, within ``deadline`` (time.monotonic())."""
    runtime = app.state.runtime
    if runtime.stt is None:
        return {
            "skipped": "no speech recogniser loaded: set STT_MODEL_PATH (or STT_MODEL with its "
            f"weights cached): {runtime.stt_missing or 'not installed'}"
        }
    report: dict[str, Any] = {}
    for mode, fields in MODES.items():
        levels: list[dict] = []
        n = 1
        while n <= max_streams and time.monotonic() < deadline:
            logger.info("listening %s: %d concurrent stream(s)...", mode, n)
            try:
                level = asyncio.run(_level(url, n, max_tokens, fields, app, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                levels.append({"streams": n, "cut_by_budget": True})
                break
            except httpx.HTTPError as exc:
                levels.append({"streams": n, "failed": f"{type(exc).__name__}: {exc}"})
                break
            levels.append(level)
            # Past the sweep's rule (no stall, RTF within the margin) while the audio still comes
            # faster than it plays: on a small host the rule breaks at once and says little.
            if level["rtf_p95"] >= 1.0:
                break
            n *= 2
        measured = [lv for lv in levels if "rtf_p95" in lv]
        held = [lv["streams"] for lv in measured if holds_real_time(lv)]
        faster = [lv["streams"] for lv in measured if lv["rtf_p95"] < 1.0]
        single = levels[0] if levels and "first_audio_s_p50" in levels[0] else None
        report[mode] = {
            "streams_held_at_real_time": max(held, default=0),
            "streams_generated_faster_than_real_time": max(faster, default=0),
            "first_audio_s_single": single["first_audio_s_p50"] if single else None,
            "listening_after_audio_s_single": single["listening_after_audio_s"] if single else None,
            "levels": levels,
        }
        logger.info(
            "listening %s: %d stream(s) held at real time, first audio %s",
            mode,
            report[mode]["streams_held_at_real_time"],
            f"{single['first_audio_s_p50'] * 1000:.0f} ms" if single else "not measured",
        )
    return report
