"""SNAC decoding cost: our exact streaming decoder vs the reference sliding window, same codes, one run.

Reference (official package, Orpheus-FastAPI, orpheus-cpp): every 7 tokens, once 4 frames exist,
decode the last 4 frames and keep samples 2048..4096. It never plays the first frame or the last
two, and decodes every frame 4 times.

Ours: frames arrive one at a time (generation slower than decoding: the decoder's worst case, since
chunks then stay at the planner's minimum sizes) and the WindowPlanner decides what to decode.

Runs on random SNAC weights (the real checkpoint cannot be downloaded here): cost depends on the
architecture, not the weights. Prints a table and writes benchmarks/results/decode_bench.json.

    python -m benchmarks.decode_bench [--frames 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from snac import SNAC

from coordinator.audio.format import SAMPLE_RATE, SAMPLES_PER_FRAME
from coordinator.audio.snac_codec import SnacCodec
from coordinator.audio.streaming import StreamingDecoder
from coordinator.audio.windows import MAX_CHUNK_FRAMES, WindowPlanner
from tests.rig.snac_checkpoint import SNAC_24KHZ_CONFIG, silence_noise_blocks

ROOT = Path(__file__).resolve().parent.parent

REFERENCE_WINDOW_FRAMES = 4
REFERENCE_KEEP = slice(SAMPLES_PER_FRAME, 2 * SAMPLES_PER_FRAME)


def run_ours(codec: SnacCodec, frames: np.ndarray, max_chunk: int) -> tuple[np.ndarray, int]:
    decoder = StreamingDecoder(codec, WindowPlanner(max_chunk=max_chunk))
    chunks, calls = [], 0
    for frame in frames:
        decoder.push(frame)
        for chunk in decoder.decode_ready(finished=False):
            chunks.append(chunk)
            calls += 1
    for chunk in decoder.decode_ready(finished=True):
        chunks.append(chunk)
        calls += 1
    return np.concatenate(chunks), calls


def run_reference(codec: SnacCodec, frames: np.ndarray, _max_chunk: int = 0) -> tuple[np.ndarray, int]:
    chunks = []
    for available in range(REFERENCE_WINDOW_FRAMES, len(frames) + 1):
        window = frames[available - REFERENCE_WINDOW_FRAMES : available]
        chunks.append(codec.decode(window)[REFERENCE_KEEP])
    return np.concatenate(chunks), len(chunks)


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--max-chunks",
        type=int,
        nargs="+",
        default=[4, 8, 12, MAX_CHUNK_FRAMES],
        help="planner max_chunk values to measure; the first listed default is the shipped one",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "decode_bench.json")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = SNAC(**SNAC_24KHZ_CONFIG)
    silence_noise_blocks(model)  # deterministic, so the outputs can be compared to the offline decode
    codec = SnacCodec(model, torch.device("cpu"))
    frames = np.random.default_rng(0).integers(0, 4096, size=(args.frames, 7))
    offline = codec.decode(frames)

    variants = {f"ours_max_chunk_{m}": (run_ours, m) for m in args.max_chunks}
    variants["reference"] = (run_reference, 0)
    for fn, max_chunk in variants.values():  # warm-up every window shape once
        fn(codec, frames, max_chunk)

    samples: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in variants}
    outputs = {}
    # Interleave the variants in every repeat, so machine noise hits them alike.
    for _ in range(args.repeats):
        for name, (fn, max_chunk) in variants.items():
            outputs[name], wall, cpu = timed(fn, codec, frames, max_chunk)
            samples[name]["wall"].append(wall)
            samples[name]["cpu"].append(cpu)

    results = {}
    for name, (audio, calls) in outputs.items():
        audio_s = len(audio) / SAMPLE_RATE
        if name == "reference":  # its output lines up with offline frames 1 .. F-3
            expected = offline[SAMPLES_PER_FRAME : SAMPLES_PER_FRAME + len(audio)]
        else:
            expected = offline
        cpu, wall = statistics.median(samples[name]["cpu"]), statistics.median(samples[name]["wall"])
        results[name] = {
            "decode_calls": calls,
            "frames_out": len(audio) // SAMPLES_PER_FRAME,
            "frames_dropped": args.frames - len(audio) // SAMPLES_PER_FRAME,
            "audio_s": audio_s,
            "wall_s_median": wall,
            "cpu_s_median": cpu,
            "cpu_s_per_audio_s": cpu / audio_s,
            "wall_s_per_audio_s": wall / audio_s,
            "max_abs_error_vs_offline": float(np.abs(audio - expected).max()),
        }
    shipped = f"ours_max_chunk_{MAX_CHUNK_FRAMES}"
    if shipped not in results:
        shipped = next(iter(results))
    results_ours = results[shipped]
    ratio_cpu = results_ours["cpu_s_per_audio_s"] / results["reference"]["cpu_s_per_audio_s"]
    ratio_wall = results_ours["wall_s_per_audio_s"] / results["reference"]["wall_s_per_audio_s"]
    ratios = {
        name: r["cpu_s_per_audio_s"] / results["reference"]["cpu_s_per_audio_s"]
        for name, r in results.items()
        if name != "reference"
    }
    report = {
        "benchmark": "snac_streaming_decode",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": torch.get_num_threads(), "device": "cpu"},
        "frames": args.frames,
        "repeats": args.repeats,
        "results": results,
        "shipped_variant": shipped,
        "ratio_cpu_per_audio_s_ours_over_reference": ratio_cpu,
        "ratio_cpu_per_audio_s_by_variant": ratios,
        "ratio_wall_per_audio_s_ours_over_reference": ratio_wall,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(
        f"{'decoder':<20} {'calls':>6} {'frames':>7} {'dropped':>8} {'cpu s/audio s':>14} "
        f"{'wall s/audio s':>15} {'max err':>9}"
    )
    for name, r in results.items():
        print(
            f"{name:<20} {r['decode_calls']:>6} {r['frames_out']:>7} {r['frames_dropped']:>8} "
            f"{r['cpu_s_per_audio_s']:>14.3f} {r['wall_s_per_audio_s']:>15.3f} "
            f"{r['max_abs_error_vs_offline']:>9.2e}"
        )
    print(f"{shipped} / reference, CPU time per audio second: {ratio_cpu:.2f} (wall {ratio_wall:.2f})")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
