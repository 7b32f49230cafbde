"""Soak: hundreds of mixed requests against one server process; does it leak?

Starts ``python -m coordinator serve`` on the tiny random models (its own process, so what is
measured is the server alone), waits until it is ready (warmed up), runs a warm-up round of every
request kind, then records the server's anonymous resident memory (RssAnon: heap and
anonymous maps, not the mapped model files), open file descriptors and threads. Then it sends
``--requests`` mixed requests with bounded concurrency: speech streamed and whole in several
formats (mp3 and opus included), speech SSE, chat completions streamed and not, ``/chat``, and a
share of streams cancelled mid-way by the client. After a few idle seconds it measures again.

Pass: RssAnon grew by less than 50 MB, and open files and threads are back to the baseline.

    python -m benchmarks.soak                  # 500 requests, concurrency 4 (several minutes on 2 cores)
    python -m benchmarks.soak --requests 100   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx

from tests.rig.snac_checkpoint import write_random_snac
from tests.rig.tiny_gguf import build_chat_gguf, build_orpheus_gguf

ROOT = Path(__file__).resolve().parent.parent

READY_TIMEOUT_S = 300
REQUEST_TIMEOUT_S = 300
EXIT_TIMEOUT_S = 60
MAX_RSS_GROWTH_MB = 50
KIB = 1024
MIB = 1024 * 1024
SEED = 0
# Share of streamed requests the client abandons after its first bytes.
CANCEL_SHARE = 0.15
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Streaming speech should start before the sentence is finished.",
    "Every frame of audio counts, from the first to the last.",
    "A voice server serves many listeners at once.",
]
SPEECH_FORMATS = ["mp3", "opus", "wav", "pcm", "aac", "flac"]
# Short utterances: the random model never ends one itself, so max_tokens sets its length.
SPEECH_TOKENS = 140
CHAT_TOKENS = 32
WARM_UP_ROUNDS = 2


@dataclass(frozen=True)
class Probe:
    rss_anon_mb: float
    open_fds: int
    threads: int
    thread_names: dict[str, int]


def probe(pid: int) -> Probe:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss_anon_kib = int(fields["RssAnon"].split()[0])
    names: dict[str, int] = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):  # a thread may end while we look
            name = Path(f"/proc/{pid}/task/{task}/comm").read_text().strip()
            names[name] = names.get(name, 0) + 1
    return Probe(
        rss_anon_mb=rss_anon_kib * KIB / MIB,
        open_fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=int(fields["Threads"]),
        thread_names=dict(sorted(names.items())),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(models: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MODELS_CONFIG": str(ROOT / "models.yaml"),
        "ORPHEUS_MODEL_PATH": str(build_orpheus_gguf(models / "orpheus.gguf")),
        "LLM_MODEL_PATH": str(build_chat_gguf(models / "chat.gguf")),
        "SNAC_MODEL_PATH": str(write_random_snac(models / "snac")),
        "SNAC_DEVICE": "cpu",
        "N_CTX": "1024",
        "MAX_CONCURRENT_STREAMS": "4",
        "TTS_MAX_TOKENS": str(SPEECH_TOKENS),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("API_KEY", None)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "coordinator", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=models,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(client: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT_S:
        if process.poll() is not None:
            raise RuntimeError("the server exited before it was ready")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def request_plan(n: int, rng: random.Random) -> list[tuple[str, str, dict, bool]]:
    """(kind, path, body, stream) per request, every kind in turn, sentences and formats varied."""
    kinds = itertools.cycle(
        ["speech", "speech_stream", "speech_sse", "chat_completion", "chat_completion_stream", "voice_chat"]
    )
    plan = []
    for i, kind in zip(range(n), kinds):
        text = rng.choice(SENTENCES)
        fmt = SPEECH_FORMATS[i % len(SPEECH_FORMATS)]
        speech = {
            "model": "tts-1",
            "input": text,
            "voice": "tara",
            "response_format": fmt,
            "max_tokens": SPEECH_TOKENS,
        }
        chat = {
            "model": "gemma-2-2b-instruct",
            "messages": [{"role": "user", "content": text}],
            "max_tokens": CHAT_TOKENS,
            "seed": i,
        }
        if kind == "speech":
            plan.append((kind, "/v1/audio/speech", speech, False))
        elif kind == "speech_stream":
            plan.append((kind, "/v1/audio/speech/stream", speech, True))
        elif kind == "speech_sse":
            plan.append((kind, "/v1/audio/speech", {**speech, "stream_format": "sse"}, True))
        elif kind == "chat_completion":
            plan.append((kind, "/v1/chat/completions", chat, False))
        elif kind == "chat_completion_stream":
            plan.append((kind, "/v1/chat/completions", {**chat, "stream": True}, True))
        else:
            plan.append((kind, "/chat", {"message": text, "voice": "tara", "max_tokens": CHAT_TOKENS}, True))
    return plan


async def send(client: httpx.AsyncClient, path: str, body: dict, stream: bool, cancel: bool) -> str:
    """'ok', 'cancelled' (the client left on purpose) or 'failed'."""
    if not stream:
        response = await client.post(path, json=body)
        return "ok" if response.status_code == 200 and response.content else "failed"
    async with client.stream("POST", path, json=body) as response:
        if response.status_code != 200:
            return "failed"
        received = 0
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if cancel:
                return "cancelled"  # leaving the block closes the connection mid-stream
        return "ok" if received else "failed"


async def run_requests(
    client: httpx.AsyncClient, plan: list[tuple[str, str, dict, bool]], concurrency: int, rng: random.Random
) -> dict[str, int]:
    outcomes: dict[str, int] = {"ok": 0, "cancelled": 0, "failed": 0}
    failures: dict[str, int] = {}
    cancels = [stream and rng.random() < CANCEL_SHARE for _, _, _, stream in plan]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(plan)):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            kind, path, body, stream = plan[index]
            try:
                outcome = await send(client, path, body, stream, cancels[index])
            except httpx.HTTPError as exc:
                outcome = "failed"
                print(f"  {kind} failed: {exc!r}")
            outcomes[outcome] += 1
            if outcome == "failed":
                failures[kind] = failures.get(kind, 0) + 1
            done = sum(outcomes.values())
            if done % 50 == 0:
                print(f"  {done}/{len(plan)} requests", flush=True)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if failures:
        print(f"  failures by kind: {failures}")
    return outcomes


async def soak(args: argparse.Namespace) -> dict:
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp)
        port = free_port()
        log = models / "server.log"
        process = start_server(models, port, log)
        try:
            limits = httpx.Limits(max_connections=args.concurrency * 2)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=REQUEST_TIMEOUT_S, limits=limits
            ) as client:
                ready_s = await wait_ready(client, process)
                print(f"ready (loaded and warmed up) in {ready_s:.1f} s")
                # Rounds of every kind and format first, at full concurrency: what is built lazily
                # and then kept (FFmpeg's codecs, the worker-thread pool that grows to the
                # concurrency, httpx's and uvicorn's pools) belongs to the baseline.
                warm_plan = request_plan(WARM_UP_ROUNDS * len(SPEECH_FORMATS) * args.concurrency, rng)
                warm = await run_requests(client, warm_plan, args.concurrency, rng)
                await asyncio.sleep(args.idle_s)
                before = probe(process.pid)
                print(f"baseline: {before}")
                started = time.monotonic()
                outcomes = await run_requests(client, request_plan(args.requests, rng), args.concurrency, rng)
                duration = time.monotonic() - started
                await asyncio.sleep(args.idle_s)
                after = probe(process.pid)
                print(f"after:    {after}")
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                exit_code = process.wait(timeout=EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                exit_code = None
            server_log = log.read_text(errors="replace")
    growth = after.rss_anon_mb - before.rss_anon_mb
    passed = (
        growth < MAX_RSS_GROWTH_MB
        and after.open_fds <= before.open_fds
        and after.threads <= before.threads
        and outcomes["failed"] == 0
    )
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{len(os.sched_getaffinity(0))} cores, no GPU, tiny random models ({platform.machine()})",
        "requests": args.requests,
        "concurrency": args.concurrency,
        "warm_up_requests_ok": warm["ok"] + warm["cancelled"],
        "ok": outcomes["ok"],
        "cancelled_by_client": outcomes["cancelled"],
        "failed": outcomes["failed"],
        "duration_s": round(duration, 1),
        "rss_anon_mb": {"before": round(before.rss_anon_mb, 1), "after": round(after.rss_anon_mb, 1)},
        "rss_anon_growth_mb": round(growth, 1),
        "open_fds": {"before": before.open_fds, "after": after.open_fds},
        "threads": {"before": before.threads, "after": after.threads},
        "thread_names": {"before": before.thread_names, "after": after.thread_names},
        "server_exit_code_on_sigterm": exit_code,
        "server_errors_logged": server_log.count("ERROR"),
        "passed": passed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--idle-s", type=float, default=5.0, help="idle wait before each measurement")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "soak.json")
    args = parser.parse_args()
    result = asyncio.run(soak(args))
    rows = [
        (
            "requests ok / cancelled / failed",
            f"{result['ok']} / {result['cancelled_by_client']} / {result['failed']}",
        ),
        ("duration", f"{result['duration_s']} s"),
        (
            "RssAnon before → after",
            f"{result['rss_anon_mb']['before']} → {result['rss_anon_mb']['after']} MB "
            f"({result['rss_anon_growth_mb']:+} MB, limit {MAX_RSS_GROWTH_MB})",
        ),
        ("open fds before → after", f"{result['open_fds']['before']} → {result['open_fds']['after']}"),
        ("threads before → after", f"{result['threads']['before']} → {result['threads']['after']}"),
        ("exit code on SIGTERM", str(result["server_exit_code_on_sigterm"])),
        ("passed", str(result["passed"])),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {args.out}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
