"""The capacity sweep: how many speech streams this host holds at real time, through the real server.

One in-process server (engine + batched SNAC + encoders + HTTP) with as many slots as the sweep
may need; N concurrent /v1/audio/speech streams (pcm) at N = 1, 2, 4, ... until real time breaks,
then a bisection or two between the last N that held and the first that did not. Every stream
speaks exactly ``max_tokens`` audio tokens (a random-weight model never says end of speech; a real
one is capped the same way), so levels are comparable. Each level also records where the time
went: the Orpheus engine's step time by batch size (llama_decode, logits read + sampling, Python)
and SNAC's calls by batch size (``profile``); the report names the host and the memory the
recommendation needs (``host``).

Everything is bounded by a deadline: a level that would not fit in what is left is not started,
one that overruns is cut and reported as such.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from coordinator.bench.cloned import REFERENCE_SECONDS, cloned_first_audio
from coordinator.bench.host import device_memory, machine, memory_for, weight_repack_on
from coordinator.bench.listening import listening_costs
from coordinator.bench.load import (
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    SENTENCES,
    TOKENS_PER_FRAME,
    WAV_HEADER_BYTES,
    run,
    summarize,
)
from coordinator.bench.profile import engine_profile, snac_profile, snapshot
from coordinator.bench.report import (
    DEFAULT_MARGIN,
    holds_real_time,
    next_level,
    recommend,
)
from coordinator.bench.server import running_server
from coordinator.config.settings import Settings

logger = logging.getLogger(__name__)

CHAT_RUNS = 3
CHAT_ATTEMPTS = 10
CHAT_REPLY_TOKENS = 40  # as benchmarks/load.py's /chat streams
BENCH_QUEUE_TIMEOUT_S = 3600.0
# A level whose streams all held real time lasts about one utterance; one that broke it, longer in
# proportion. Plan with this much slack over the estimate.
LEVEL_ESTIMATE_SLACK = 1.3
# Client-side timeout of one HTTP stream: the deadline cuts a level long before this.
STREAM_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class SweepConfig:
    max_streams: int
    max_tokens: int
    deadline: float  # time.monotonic() by which the sweep must have stopped
    margin: float = DEFAULT_MARGIN
    refine: int = 2
    chat: bool = True
    # Custom voices' first audio with references of these lengths (s), when a cloning model is loaded.
    cloned: tuple[float, ...] = REFERENCE_SECONDS
    # Streams with checking off, timings on, checking on (bench/listening.py), when Whisper is loaded.
    listening: bool = True


def bench_settings(settings: Settings, *, max_streams: int, max_tokens: int) -> Settings:
    """The server's settings for the sweep: slots for the largest level, utterances of exactly
    ``max_tokens`` tokens, a context just large enough for them, no API key (loopback, in-process)."""
    from coordinator.config.settings import PROMPT_OVERHEAD_TOKENS
    from coordinator.text.sentences import MAX_UTTERANCE_CHARS

    context_granule = 256
    needed = max_tokens + MAX_UTTERANCE_CHARS + PROMPT_OVERHEAD_TOKENS
    n_ctx = -(-needed // context_granule) * context_granule
    return settings.model_copy(
        update={
            "max_concurrent_streams": max_streams,
            "max_queue": max(settings.max_queue, max_streams),
            "tts_max_tokens": max_tokens,
            # The sweep measures speed, not the queueing policy: a slow host must not turn a /chat
            # reply's later sentences, waiting for a slot, into failures.
            "queue_timeout_s": max(settings.queue_timeout_s, BENCH_QUEUE_TIMEOUT_S),
            "max_completion_tokens": max(settings.max_completion_tokens, max_tokens),
            "n_ctx": n_ctx,
            "api_key": None,
            "auto_download": False,
        }
    )


def _audio_s(max_tokens: int) -> float:
    return max_tokens // TOKENS_PER_FRAME * SAMPLES_PER_FRAME / SAMPLE_RATE


async def _level(url: str, n: int, config: SweepConfig, runtime: Any) -> dict:
    engine_before, snac_before, busy_before = snapshot(runtime)
    remaining = config.deadline - time.monotonic()
    cut, failure = False, None
    started = time.monotonic()
    try:
        results, wall_s = await asyncio.wait_for(
            run(url, ["speech"] * n, config.max_tokens, concurrent=True), timeout=max(remaining, 0.001)
        )
    except asyncio.TimeoutError:
        cut, results, wall_s = True, [], max(remaining, 0.0)
    except httpx.HTTPError as exc:  # a refused or broken stream: the server's limit, not the bench's
        failure, results, wall_s = _http_failure(exc), [], time.monotonic() - started
    engine_after, snac_after, busy_after = snapshot(runtime)
    if results:
        level = summarize(results, wall_s)
    else:
        level = {
            "streams": n,
            "first_audio_s_p50": None,
            "first_audio_s_p95": None,
            "rtf_p50": None,
            "rtf_p95": None,
            "streams_behind_real_time": None,
            "audio_s_total": 0.0,
            "wall_s": wall_s,
            "audio_tokens_per_s": 0.0,
        }
    level["cut_by_budget"] = cut
    level["failed"] = failure
    level["real_time_multiple_aggregate"] = level["audio_s_total"] / wall_s if wall_s else 0.0
    level["snac_busy_share"] = (busy_after - busy_before) / wall_s if wall_s else 0.0
    level["engine_steps"] = engine_profile(engine_before, engine_after)
    level["snac_calls"] = snac_profile(snac_before, snac_after)
    return level


def _http_failure(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {exc.request.url.path}"
    return f"{type(exc).__name__}: {exc}"


def _estimate_s(done: list[dict], n: int, audio_s: float) -> float:
    """How long level ``n`` will take, from the largest level measured so far."""
    if not done:
        return audio_s * LEVEL_ESTIMATE_SLACK
    last = max(done, key=lambda lv: lv["streams"])
    if holds_real_time(last):  # below real time a level lasts about one utterance
        return max(audio_s, last["wall_s"]) * LEVEL_ESTIMATE_SLACK
    # Past it, the engine is the limit: wall time grows with the streams it must serve.
    return max(audio_s, last["wall_s"] * n / last["streams"]) * LEVEL_ESTIMATE_SLACK


async def _chat_once(client: httpx.AsyncClient, seed: int) -> float | None:
    """Seconds to /chat's first audio byte, or None if the reply had nothing to speak. The response
    is closed at the first audio (the server then stops generating): the rest is not measured."""
    body = {"message": SENTENCES[seed % len(SENTENCES)], "max_tokens": CHAT_REPLY_TOKENS, "seed": seed}
    started = time.perf_counter()
    received = 0
    async with client.stream("POST", "/chat", json=body) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > WAV_HEADER_BYTES:
                return time.perf_counter() - started
    return None


async def _chat_first_audio(url: str, runs: int, deadline: float) -> list[float]:
    """First audio of /chat, alone, ``runs`` times. A reply with nothing to speak (a random model
    may end its turn at once) has no first audio: another seed is tried, up to CHAT_ATTEMPTS."""
    times: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=STREAM_TIMEOUT_S) as client:
        for seed in range(CHAT_ATTEMPTS):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or len(times) == runs:
                break
            try:
                first = await asyncio.wait_for(_chat_once(client, seed), timeout=remaining)
            except asyncio.TimeoutError:
                break
            except httpx.HTTPError as exc:
                logger.warning("/chat failed: %s", _http_failure(exc))
                continue
            if first is not None:
                times.append(first)
    return times


def sweep(settings: Settings, config: SweepConfig, *, models: dict) -> dict:
    """Run the whole measurement against an in-process server; return the report (JSON-ready)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-voices-") as voices_dir:
        # The bench's custom voices live and die here, never among the host's own (VOICES_DIR).
        server_settings = bench_settings(
            settings, max_streams=config.max_streams, max_tokens=config.max_tokens
        ).model_copy(update={"voices_dir": Path(voices_dir)})
        return _sweep(settings, server_settings, config, models=models)


def _sweep(settings: Settings, server_settings: Settings, config: SweepConfig, *, models: dict) -> dict:
    started = time.monotonic()
    audio_s = _audio_s(config.max_tokens)
    levels: list[dict] = []
    stopped_by = "max streams reached"
    chat_times: list[float] = []
    logger.info(
        "starting the server: %d slots, %d audio tokens (%.1f s of audio) per stream",
        config.max_streams,
        config.max_tokens,
        audio_s,
    )
    with running_server(server_settings) as (url, app):
        runtime = app.state.runtime
        logger.info("server ready in %.1f s", time.monotonic() - started)
        while (n := next_level(levels, config.max_streams, refine=config.refine)) is not None:
            estimate = _estimate_s(levels, n, audio_s)
            if time.monotonic() + estimate > config.deadline:
                stopped_by = f"time budget (the next level, {n} streams, needs about {estimate:.0f} s)"
                logger.info("stopping: %s", stopped_by)
                break
            logger.info("measuring %d concurrent stream(s)...", n)
            level = asyncio.run(_level(url, n, config, runtime))
            levels.append(level)
            if level["cut_by_budget"]:
                logger.info("%d stream(s): cut by the time budget", n)
                stopped_by = "time budget (a level was cut)"
                break
            if level["failed"]:
                logger.warning("%d stream(s): %s", n, level["failed"])
                stopped_by = f"a stream failed at {n} streams ({level['failed']})"
                break
            logger.info(
                "%d stream(s): first audio p50 %.0f ms p95 %.0f ms, real-time factor p50 %.2f p95 %.2f, "
                "%d stalled: real time %s",
                n,
                level["first_audio_s_p50"] * 1000,
                level["first_audio_s_p95"] * 1000,
                level["rtf_p50"],
                level["rtf_p95"],
                level["streams_behind_real_time"],
                "held" if holds_real_time(level) else "broke",
            )
        else:
            if any(not holds_real_time(lv) for lv in levels):
                stopped_by = "real time broke"
        if config.chat and time.monotonic() < config.deadline:
            logger.info("measuring /chat first audio (%d runs, one at a time)...", CHAT_RUNS)
            chat_times = asyncio.run(_chat_first_audio(url, CHAT_RUNS, config.deadline))
        listening: dict[str, Any] = {"skipped": "--no-listening"}
        if config.listening:
            listening = listening_costs(
                url,
                app,
                max_streams=config.max_streams,
                max_tokens=config.max_tokens,
                deadline=config.deadline,
            )
        cloned: dict[str, Any] = {"skipped": "--no-cloned"}
        if config.cloned:
            cloned = cloned_first_audio(
                url,
                runtime,
                references_s=config.cloned,
                max_tokens=config.max_tokens,
                deadline=config.deadline,
            )
        memory = device_memory()

    recommended = recommend(levels, config.margin)
    need = memory_for(
        models, streams=recommended, n_ctx=settings.n_ctx, snac_bytes=memory.get("snac_peak_bytes", 0)
    )
    single = next((lv for lv in levels if lv["streams"] == 1), None)
    report: dict[str, Any] = {
        "benchmark": "coordinator_bench",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "models": models,
        "settings": {
            "max_tokens_per_stream": config.max_tokens,
            "audio_s_per_stream": audio_s,
            "n_ctx_during_bench": server_settings.n_ctx,
            "n_ctx_configured": settings.n_ctx,
            "n_gpu_layers": settings.n_gpu_layers,
            "cpu_weight_repack": settings.cpu_weight_repack,
            "cpu_weight_repack_on": weight_repack_on(settings),
            "snac_device": settings.snac_device,
            "snac_compile": settings.snac_compile,
            "snac_batch_frames": settings.snac_batch_frames,
            "margin": config.margin,
        },
        "single_stream": _single(single),
        "levels": sorted(levels, key=lambda lv: lv["streams"]),
        "chat_first_audio_s": {
            "runs": chat_times,
            "median": statistics.median(chat_times) if chat_times else None,
        },
        "listening": listening,
        "cloned_voices": cloned,
        "memory": memory,
        "recommendation": {
            "max_concurrent_streams": recommended,
            "rule": f"largest measured N with no stalled stream and real-time factor p95 <= {config.margin}",
            "memory_needed": need.as_dict(),
        },
        "stopped_by": stopped_by,
        "elapsed_s": time.monotonic() - started,
    }
    return report


def _single(level: dict | None) -> dict | None:
    if level is None or level["cut_by_budget"] or level["failed"]:
        return None
    steps = [row for row in level["engine_steps"] if row["batch"] == 1]
    return {
        "audio_tokens_per_s": level["audio_tokens_per_s"],
        "first_audio_s": level["first_audio_s_p50"],
        "real_time_multiple": level["real_time_multiple_aggregate"],
        "engine_tokens_per_s": 1000 / steps[0]["step_ms"] if steps and steps[0]["step_ms"] else None,
    }


def write_report(report: dict, path: Path) -> None:
    """Atomically: a failure never leaves half a JSON file."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(report, indent=2, default=str) + "\n")
    partial.replace(path)
