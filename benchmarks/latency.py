"""Time to first audio byte of /v1/audio/speech and /chat on a live server, and where it goes.

Runs the real server (uvicorn, loopback) on the tiny random test models, so on this CPU the
figures say how much the coordinator itself adds, not how fast Orpheus or Gemma are: a GPU host
running the real models must be measured with its own run. Shares come from the pipeline's own
timestamps in separate in-process runs of the same requests (medians).

    python -m benchmarks.latency [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

from benchmarks.tiny_server import tiny_server
from coordinator.engine.sampling import SamplingParams
from coordinator.llm.chat import ChatMessage
from coordinator.text.sentences import SentenceBuffer

ROOT = Path(__file__).resolve().parent.parent

WAV_HEADER_BYTES = 44
SPEECH = {
    "model": "tts-1",
    "input": "Hello there, how are you today?",
    "voice": "tara",
    "response_format": "wav",
    "max_tokens": 140,
}
CHAT = {"message": "Tell me something.", "max_tokens": 60, "seed": 0}


def first_audio_byte_s(url: str, path: str, body: dict, header_bytes: int) -> float:
    """Seconds from sending the request to the first byte of audio (past the container header)."""
    started = time.perf_counter()
    received = 0
    elapsed = None
    with httpx.stream("POST", url + path, json=body, timeout=120) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():  # read to the end, so runs do not overlap
            received += len(chunk)
            if elapsed is None and received > header_bytes:
                elapsed = time.perf_counter() - started
    if elapsed is None:
        raise RuntimeError(f"{path} sent no audio")
    return elapsed


async def speech_shares(runtime) -> dict[str, float]:
    speech = runtime.tts.speak(
        SPEECH["input"], "tara", SamplingParams(max_tokens=140, seed=0), loop=asyncio.get_running_loop()
    )
    async for _ in speech.aiter_chunks(runtime.snac):
        pass
    stats = speech.streams[0].stats
    return {
        "orpheus_tokens_s": stats.first_window_ready_s,
        "snac_s": stats.first_decode_s,
        "first_audio_s": stats.first_audio_s,
    }


async def chat_llm_first_sentence_s(runtime) -> float:
    llm = runtime.llm
    started = time.perf_counter()
    request = llm.chat_request(
        [ChatMessage("user", CHAT["message"])],
        SamplingParams(max_tokens=CHAT["max_tokens"], temperature=0.7, top_p=0.95, seed=0),
    )
    stream = llm.start(request, loop=asyncio.get_running_loop())
    buffer = SentenceBuffer()
    first = None
    async for delta in stream.deltas():
        if first is None and buffer.feed(delta):
            first = time.perf_counter() - started
    return first if first is not None else time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "latency.json")
    args = parser.parse_args()

    with tiny_server(tts_max_tokens=SPEECH["max_tokens"], max_concurrent_streams=4) as (url, app):
        runtime = app.state.runtime
        first_audio_byte_s(url, "/v1/audio/speech", SPEECH, 0)  # warm-up
        speech_ttfb = [first_audio_byte_s(url, "/v1/audio/speech", SPEECH, 0) for _ in range(args.runs)]
        chat_ttfb = [first_audio_byte_s(url, "/chat", CHAT, WAV_HEADER_BYTES) for _ in range(args.runs)]
        shares = [asyncio.run(speech_shares(runtime)) for _ in range(args.runs)]
        llm_first = [asyncio.run(chat_llm_first_sentence_s(runtime)) for _ in range(args.runs)]

    med = statistics.median
    tokens, snac = med(s["orpheus_tokens_s"] for s in shares), med(s["snac_s"] for s in shares)
    speech = med(speech_ttfb)
    chat = med(chat_ttfb)
    llm = med(llm_first)
    report = {
        "benchmark": "first_audio_latency",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "device": "cpu", "models": "tiny random test models"},
        "runs": args.runs,
        "speech": {
            "ttfb_s_median": speech,
            "orpheus_tokens_s": tokens,
            "snac_first_window_s": snac,
            "coordinator_s": speech - tokens - snac,
        },
        "chat": {
            "ttfb_s_median": chat,
            "llm_first_sentence_s": llm,
            "orpheus_tokens_s": tokens,
            "snac_first_window_s": snac,
            "coordinator_s": chat - llm - tokens - snac,
        },
        "samples": {"speech_ttfb_s": speech_ttfb, "chat_ttfb_s": chat_ttfb},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for name in ("speech", "chat"):
        row = report[name]
        parts = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in row.items() if k != "ttfb_s_median")
        print(f"{name:<7} first audio byte {row['ttfb_s_median'] * 1000:.0f} ms: {parts}")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
