"""Concurrent speech streams against a live server: latency, real-time factor, throughput.

N clients each stream /v1/audio/speech (pcm) at once (a share of them /chat instead), then the same
requests run one after another, in the same run. Per stream: time to first audio, real-time factor
(wall time / audio time), and whether playback starting at the first byte would have stalled.
Aggregate: audio tokens per second (7 per 85.3 ms frame) and the ratio concurrent / sequential.
The stream client is coordinator/bench/load.py, shared with `python -m coordinator bench`.

    python -m benchmarks.load --tiny --streams 8           # this CPU, tiny random models
    python -m benchmarks.load --url http://gpu-host:8080 --streams 32 --max-tokens 1200
    python -m benchmarks.load --tiny --languages --voices tara,pierre,长乐   # a language mix
    python -m benchmarks.load --url http://gpu-host:8080 --voices tara,pierre,jana,유나 --streams 32

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
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.tiny_server import tiny_server
from coordinator.bench.load import newcomer_first_audio_s, run, summarize

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server")
    target.add_argument("--tiny", action="store_true", help="start a server on the tiny test models here")
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--chat-share", type=float, default=0.25, help="share of the streams that use /chat")
    parser.add_argument("--max-tokens", type=int, default=140, help="audio tokens per speech request")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load.json")
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
