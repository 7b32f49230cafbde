"""Wyoming speech latency: what streaming synthesis gives a voice assistant, and what Wyoming costs.

A simulated LLM writes a reply of a few sentences at a steady rate. Streamed (Home Assistant
2025.7+): its deltas go out as synthesize-chunks as they are written. One-shot (older Home
Assistant, or a TTS without streaming): the whole reply is sent as one synthesize once written.
Both measure the time from the LLM's first delta to the first audio chunk, in the same run, and
the ratio. Also, side by side: the first audio of one sentence over Wyoming and over the HTTP API
(/v1/audio/speech, pcm), to show the Wyoming layer adds nothing measurable.

    python -m benchmarks.wyoming_latency --tiny                   # this CPU, tiny random models
    python -m benchmarks.wyoming_latency --host gpu-host --port 10200 --url http://gpu-host:8080
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import socket
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
from wyoming.audio import AudioChunk
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from benchmarks.tiny_server import tiny_server

ROOT = Path(__file__).resolve().parent.parent

REPLY = (
    "The living room lights are now off. "
    "I also turned down the heating to nineteen degrees for the night. "
    "Tomorrow starts sunny, with rain expected after lunch. "
    "Your alarm is set for seven."
)
SENTENCE = "The living room lights are now off."
# A local LLM on a GPU writes ~30 tokens/s, about 4 characters each; its deltas are a token or two.
DEFAULT_CHARS_PER_S = 120.0
DELTA_CHARS = 6
READ_TIMEOUT_S = 300


def deltas(text: str) -> list[str]:
    return [text[i : i + DELTA_CHARS] for i in range(0, len(text), DELTA_CHARS)]


async def streamed(host: str, port: int, chars_per_s: float) -> dict:
    """First audio, counted from the LLM's first delta, with the deltas sent as they are written."""
    async with AsyncTcpClient(host, port, read_timeout=READ_TIMEOUT_S) as wy:
        started = time.perf_counter()
        await wy.write_event(SynthesizeStart().event())

        async def write() -> float:
            for delta in deltas(REPLY):
                await wy.write_event(SynthesizeChunk(text=delta).event())
                await asyncio.sleep(len(delta) / chars_per_s)
            await wy.write_event(Synthesize(text=REPLY).event())
            await wy.write_event(SynthesizeStop().event())
            return time.perf_counter() - started

        writer = asyncio.create_task(write())
        first_audio = None
        groups = 0
        while True:
            event = await wy.read_event()
            assert event is not None and not Error.is_type(event.type), event
            if AudioChunk.is_type(event.type) and first_audio is None:
                first_audio = time.perf_counter() - started
            if event.type == "audio-start":
                groups += 1
            if SynthesizeStopped.is_type(event.type):
                break
        text_done = await writer
        assert first_audio is not None
        return {"first_audio_s": first_audio, "text_written_s": text_done, "groups": groups}


async def one_shot(host: str, port: int, chars_per_s: float, text: str = REPLY, *, wait: bool = True) -> dict:
    """First audio, counted from the LLM's first delta, when the text is sent once it is complete."""
    async with AsyncTcpClient(host, port, read_timeout=READ_TIMEOUT_S) as wy:
        started = time.perf_counter()
        if wait:
            await asyncio.sleep(len(text) / chars_per_s)  # the LLM writing it
        sent = time.perf_counter()
        await wy.write_event(Synthesize(text=text).event())
        first_audio = None
        while True:
            event = await wy.read_event()
            assert event is not None and not Error.is_type(event.type), event
            if AudioChunk.is_type(event.type) and first_audio is None:
                first_audio = time.perf_counter()
            if event.type == "audio-stop":
                break
        assert first_audio is not None
        return {"first_audio_s": first_audio - started, "after_request_s": first_audio - sent}


async def http_first_audio(url: str, text: str) -> float:
    body = {"model": "tts-1", "input": text, "voice": "tara", "response_format": "pcm"}
    async with httpx.AsyncClient(timeout=READ_TIMEOUT_S) as client:
        started = time.perf_counter()
        async with client.stream("POST", f"{url}/v1/audio/speech", json=body) as response:
            response.raise_for_status()
            first = None
            async for _ in response.aiter_bytes():
                if first is None:
                    first = time.perf_counter() - started
            assert first is not None
            return first


async def measure(host: str, port: int, url: str | None, rounds: int, chars_per_s: float) -> dict:
    runs: dict[str, list] = {"streamed": [], "one_shot": [], "wyoming_sentence": [], "http_sentence": []}
    for _ in range(rounds):  # interleaved, so load drifts hit both sides alike
        runs["streamed"].append(await streamed(host, port, chars_per_s))
        runs["one_shot"].append(await one_shot(host, port, chars_per_s))
        runs["wyoming_sentence"].append(
            (await one_shot(host, port, chars_per_s, SENTENCE, wait=False))["after_request_s"]
        )
        if url is not None:
            runs["http_sentence"].append(await http_first_audio(url, SENTENCE))
    streamed_first = statistics.median(r["first_audio_s"] for r in runs["streamed"])
    one_shot_first = statistics.median(r["first_audio_s"] for r in runs["one_shot"])
    report = {
        "reply_chars": len(REPLY),
        "llm_chars_per_s": chars_per_s,
        "rounds": rounds,
        "streamed_first_audio_s_p50": streamed_first,
        "streamed_text_written_s_p50": statistics.median(r["text_written_s"] for r in runs["streamed"]),
        "streamed_groups": runs["streamed"][0]["groups"],
        "one_shot_first_audio_s_p50": one_shot_first,
        "streamed_over_one_shot": streamed_first / one_shot_first,
        "wyoming_sentence_first_audio_s_p50": statistics.median(runs["wyoming_sentence"]),
    }
    if runs["http_sentence"]:
        http = statistics.median(runs["http_sentence"])
        report["http_sentence_first_audio_s_p50"] = http
        report["wyoming_over_http"] = report["wyoming_sentence_first_audio_s_p50"] / http
    return report


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="start a server on the tiny test models here")
    parser.add_argument("--host", default="127.0.0.1", help="Wyoming host of a running server")
    parser.add_argument("--port", type=int, default=10200, help="its WYOMING_PORT")
    parser.add_argument("--url", help="its HTTP base URL, for the side-by-side with /v1/audio/speech")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--chars-per-s", type=float, default=DEFAULT_CHARS_PER_S, help="the simulated LLM's rate"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "wyoming.json")
    args = parser.parse_args()

    if args.tiny:
        port = free_port()
        with tiny_server(wyoming_port=port, wyoming_host="127.0.0.1") as (url, _):
            report = asyncio.run(measure("127.0.0.1", port, url, args.rounds, args.chars_per_s))
        report["models"] = "tiny random test models (CPU)"
    else:
        report = asyncio.run(measure(args.host, args.port, args.url, args.rounds, args.chars_per_s))
        report["models"] = "the server's"
    report["when"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report["machine"] = f"{platform.machine()}, {platform.python_version()}"
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
