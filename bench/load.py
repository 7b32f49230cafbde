"""Concurrent speech streams against a live server: latency, real-time factor, throughput.

N clients each stream /v1/audio/speech (pcm) at once (a share of them /chat instead), then the same
requests run one after another, in the same run. Per stream: time to first audio, real-time factor
(wall time / audio time), and whether playback starting at the first byte would have stalled.
Aggregate: audio tokens per second (7 per 85.3 ms frame) and the ratio concurrent / sequential.

    python bench/load.py --tiny --streams 8           # this CPU, tiny random models
    python bench/load.py --url http://gpu-host:8080 --streams 32 --max-tokens 1200
    python bench/load.py --tiny --languages --voices tara,pierre,长乐   # a language mix
    python bench/load.py --url http://gpu-host:8080 --voices tara,pierre,jana,유나 --streams 32

--voices: speech streams take these voices in turn (each voice's model speaks it), so several
Orpheus models (ORPHEUS_MODELS=en,fr,de,...) serve one run; the report adds a row per voice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tiny_server import tiny_server  # noqa: E402

SAMPLE_RATE = 24_000
PCM_BYTES = 2
SAMPLES_PER_FRAME = 2048
TOKENS_PER_FRAME = 7
WAV_HEADER_BYTES = 44
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Streaming speech should start before the sentence is finished.",
    "Every frame of audio counts, from the first to the last.",
    "A voice server serves many listeners at once.",
]
# What each language's voices say in a language mix (a voice's language from /v1/audio/voices).
SENTENCES_BY_LANGUAGE = {
    "fr": ["Le serveur parle plusieurs langues à la fois.", "Chaque voix choisit son modèle."],
    "de": ["Der Server spricht mehrere Sprachen zugleich.", "Jede Stimme wählt ihr Modell."],
    "es": ["El servidor habla varios idiomas a la vez.", "¿Cada voz elige su modelo? ¡Sí!"],
    "it": ["Il server parla più lingue insieme.", "Ogni voce sceglie il suo modello."],
    "zh": ["服务器同时说多种语言。", "每个声音选择自己的模型。"],
    "ko": ["서버는 여러 언어를 동시에 말합니다.", "각 목소리가 모델을 고릅니다."],
    "hi": ["सर्वर एक साथ कई भाषाएँ बोलता है।", "हर आवाज़ अपना मॉडल चुनती है।"],
}


@dataclass
class StreamResult:
    kind: str
    first_audio_s: float
    wall_s: float
    audio_s: float
    stalled: bool
    voice: str = "tara"

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else float("inf")


async def one_stream(
    client: httpx.AsyncClient,
    index: int,
    kind: str,
    max_tokens: int,
    seed: int,
    *,
    text: str | None = None,
    on_first_audio: asyncio.Event | None = None,
    voice: str = "tara",
    language: str = "en",
) -> StreamResult:
    if kind == "chat":
        path, body, header = (
            "/chat",
            {"message": SENTENCES[index % 4], "max_tokens": 40, "seed": seed},
            WAV_HEADER_BYTES,
        )
    else:
        body = {
            "model": "tts-1",
            "input": text or _sentence(index, language),
            "voice": voice,
            "response_format": "pcm",
            "max_tokens": max_tokens,
            "seed": seed,
        }
        path, header = "/v1/audio/speech", 0
    started = time.perf_counter()
    first = None
    received = 0
    stalled = False
    async with client.stream("POST", path, json=body) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            now = time.perf_counter()
            if received + len(chunk) > header and first is None:
                first = now
                if on_first_audio is not None:
                    on_first_audio.set()
            elif first is not None:
                # Playback began at the first byte: has it caught up with what had arrived?
                played_s = now - first
                if played_s > (received - header) / PCM_BYTES / SAMPLE_RATE + 1e-3:
                    stalled = True
            received += len(chunk)
    end = time.perf_counter()
    audio_s = max(received - header, 0) / PCM_BYTES / SAMPLE_RATE
    return StreamResult(kind, (first or end) - started, end - started, audio_s, stalled, voice)


def _sentence(index: int, language: str) -> str:
    sentences = SENTENCES_BY_LANGUAGE.get(language, SENTENCES)
    return sentences[index % len(sentences)]


async def voice_languages(client: httpx.AsyncClient) -> dict[str, str]:
    """Each voice's language, from the server's own listing."""
    response = await client.get("/v1/audio/voices")
    response.raise_for_status()
    return {voice["id"]: voice.get("language", "en") for voice in response.json()["voices"]}


async def run(
    url: str,
    kinds: list[str],
    max_tokens: int,
    concurrent: bool,
    api_key: str | None = None,
    voices: list[str] | None = None,
) -> tuple[list[StreamResult], float]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    voices = voices or ["tara"]
    async with httpx.AsyncClient(base_url=url, timeout=600, headers=headers) as client:
        languages = await voice_languages(client) if voices != ["tara"] else {}
        missing = [voice for voice in voices if languages and voice not in languages]
        if missing:
            raise SystemExit(f"the server has no voice {', '.join(missing)}: see GET {url}/v1/audio/voices")

        def stream(i: int, kind: str) -> Awaitable[StreamResult]:
            voice = voices[i % len(voices)]
            return one_stream(
                client, i, kind, max_tokens, seed=i, voice=voice, language=languages.get(voice, "en")
            )

        started = time.perf_counter()
        if concurrent:
            results = await asyncio.gather(*(stream(i, kind) for i, kind in enumerate(kinds)))
        else:
            results = [await stream(i, kind) for i, kind in enumerate(kinds)]
        return list(results), time.perf_counter() - started


async def newcomer_first_audio_s(url: str, others: int, max_tokens: int) -> float:
    """First audio of one speech request made while ``others`` speech streams are playing."""
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        playing = [asyncio.Event() for _ in range(others)]
        long_text = " ".join(SENTENCES)  # several utterances: still streaming when the newcomer comes
        background = [
            asyncio.create_task(
                one_stream(client, i, "speech", max_tokens, seed=50 + i, text=long_text, on_first_audio=event)
            )
            for i, event in enumerate(playing)
        ]
        await asyncio.gather(*(event.wait() for event in playing))
        newcomer = await one_stream(client, 0, "speech", max_tokens, seed=99)
        await asyncio.gather(*background)
        return newcomer.first_audio_s


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(results: list[StreamResult], wall_s: float) -> dict:
    audio_s = sum(r.audio_s for r in results)
    frames = audio_s * SAMPLE_RATE / SAMPLES_PER_FRAME
    return {
        "streams": len(results),
        "first_audio_s_p50": statistics.median(r.first_audio_s for r in results),
        "first_audio_s_p95": percentile([r.first_audio_s for r in results], 0.95),
        "rtf_p50": statistics.median(r.rtf for r in results),
        "rtf_p95": percentile([r.rtf for r in results], 0.95),
        "streams_behind_real_time": sum(r.stalled for r in results),
        "audio_s_total": audio_s,
        "wall_s": wall_s,
        "audio_tokens_per_s": frames * TOKENS_PER_FRAME / wall_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server")
    target.add_argument("--tiny", action="store_true", help="start a server on the tiny test models here")
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--chat-share", type=float, default=0.25, help="share of the streams that use /chat")
    parser.add_argument("--max-tokens", type=int, default=140, help="audio tokens per speech request")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json")
    parser.add_argument(
        "--api-key", default=os.environ.get("API_KEY"), help="the server's key (default: $API_KEY)"
    )
    parser.add_argument(
        "--voices",
        default="tara",
        help="comma-separated voices the speech streams take in turn: a language mix when they "
        "belong to several Orpheus models (e.g. tara,pierre,长乐)",
    )
    parser.add_argument(
        "--languages",
        action="store_true",
        help="--tiny: also load tiny French and Chinese models (voices pierre, amelie, marie, 长乐, 白芷)",
    )
    args = parser.parse_args()
    voices = [voice.strip() for voice in args.voices.split(",") if voice.strip()]

    n_chat = round(args.streams * args.chat_share)
    kinds = ["chat"] * n_chat + ["speech"] * (args.streams - n_chat)

    def measure(url: str) -> dict:
        key = args.api_key
        asyncio.run(run(url, kinds[:1], args.max_tokens, concurrent=False, api_key=key))  # warm-up
        concurrent, concurrent_wall = asyncio.run(run(url, kinds, args.max_tokens, True, key, voices))
        sequential, sequential_wall = asyncio.run(run(url, kinds, args.max_tokens, False, key, voices))
        report = {
            "voices": voices,
            "concurrent": summarize(concurrent, concurrent_wall),
            "sequential": summarize(sequential, sequential_wall),
            # Per voice (so per model) in the concurrent run: each model's own engine and queue.
            "concurrent_by_voice": {
                voice: summarize(chosen, concurrent_wall)
                for voice in voices
                if (chosen := [r for r in concurrent if r.kind == "speech" and r.voice == voice])
            },
            "streams_detail": [asdict(r) | {"rtf": r.rtf} for r in concurrent],
        }
        report["throughput_ratio_concurrent_over_sequential"] = (
            report["concurrent"]["audio_tokens_per_s"] / report["sequential"]["audio_tokens_per_s"]
        )
        report["newcomer_first_audio_s_alone"] = statistics.median(
            r.first_audio_s for r in sequential if r.kind == "speech"
        )
        report["newcomer_first_audio_s_with_others"] = asyncio.run(
            newcomer_first_audio_s(url, args.streams - 1, args.max_tokens)
        )
        return report

    if args.tiny:
        with tiny_server(
            languages=args.languages,
            max_concurrent_streams=max(8, args.streams),
            tts_max_tokens=args.max_tokens,
        ) as (url, _):
            report = measure(url)
        models = "tiny random test models" + (" (en, fr, zh)" if args.languages else "")
        machine = {"platform": platform.platform(), "device": "cpu", "models": models}
    else:
        report = measure(args.url)
        machine = {"server": args.url}
    report = {
        "benchmark": "concurrent_streams",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "kinds": kinds,
        **report,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(
        f"{'run':<11} {'streams':>7} {'TTFA p50':>9} {'TTFA p95':>9} {'RTF p50':>8} {'RTF p95':>8} "
        f"{'behind':>7} {'tokens/s':>9}"
    )
    for name in ("concurrent", "sequential"):
        r = report[name]
        print(
            f"{name:<11} {r['streams']:>7} {r['first_audio_s_p50'] * 1000:>7.0f}ms {r['first_audio_s_p95'] * 1000:>7.0f}ms "
            f"{r['rtf_p50']:>8.2f} {r['rtf_p95']:>8.2f} {r['streams_behind_real_time']:>7} "
            f"{r['audio_tokens_per_s']:>9.0f}"
        )
    if len(voices) > 1:
        for voice, r in report["concurrent_by_voice"].items():
            print(
                f"  {voice:<9} {r['streams']:>7} {r['first_audio_s_p50'] * 1000:>7.0f}ms "
                f"{r['first_audio_s_p95'] * 1000:>7.0f}ms {r['rtf_p50']:>8.2f} {r['rtf_p95']:>8.2f} "
                f"{r['streams_behind_real_time']:>7}"
            )
    print(
        f"aggregate audio tokens/s, concurrent / sequential: {report['throughput_ratio_concurrent_over_sequential']:.2f}"
    )
    print(
        f"first audio of a new speech request: alone (sequential p50) {report['newcomer_first_audio_s_alone'] * 1000:.0f} ms, "
        f"while {args.streams - 1} others stream {report['newcomer_first_audio_s_with_others'] * 1000:.0f} ms"
    )
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
