"""Batched SNAC: B windows of one shape in one call vs the same B windows one call each, one run.

The window kinds are the ones the WindowPlanner releases (first windows of 1, 2, 4, 8 kept frames
with the utterance start as their left edge, then 16 kept frames between 3 + 3 of context). For
each kind and batch size the two ways alternate, repeated, and the ratio batched / one-by-one is
reported (below 1: batching pays). This is what DecodeScheduler's frame budget per call is set
from: on this CPU, batching pays only for small windows.

Random SNAC weights (the real checkpoint cannot be downloaded here): cost depends on the
architecture, not the weights. Prints a table and writes benchmarks/results/snac_batch.json.

    python -m benchmarks.snac_batch_bench [--device cuda] [--batches 1 2 4 8] [--repeats 3]
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

from coordinator.audio.snac_codec import SnacCodec
from tests.rig.snac_checkpoint import SNAC_24KHZ_CONFIG

ROOT = Path(__file__).resolve().parent.parent

# (frames in the window, keep_start, keep_end): the planner's windows with 3 + 3 frames of context.
WINDOW_KINDS = {
    "first_1": (4, 0, 1),
    "second_2": (6, 1, 3),
    "third_4": (10, 3, 7),
    "fourth_8": (14, 3, 11),
    "steady_16": (22, 3, 19),
}
SEED = 0


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "snac_batch.json")
    args = parser.parse_args()

    torch.manual_seed(SEED)
    device = torch.device(args.device)
    codec = SnacCodec(SNAC(**SNAC_24KHZ_CONFIG), device)
    rng = np.random.default_rng(SEED)
    rows = []
    for kind, (frames, keep_start, keep_end) in WINDOW_KINDS.items():
        for batch in args.batches:
            windows = rng.integers(0, 4096, size=(batch, frames, 7))

            def one_by_one(windows=windows, keep_start=keep_start, keep_end=keep_end) -> None:
                for window in windows:
                    codec.decode_batch(window[np.newaxis], keep_start, keep_end)
                sync(device)

            def batched(windows=windows, keep_start=keep_start, keep_end=keep_end) -> None:
                codec.decode_batch(windows, keep_start, keep_end)
                sync(device)

            one_by_one(), batched()  # warm-up
            single_s, batched_s = [], []
            for _ in range(args.repeats):
                single_s.append(timed(one_by_one))
                batched_s.append(timed(batched))
            kept = batch * (keep_end - keep_start)
            row = {
                "kind": kind,
                "batch": batch,
                "kept_frames": kept,
                "one_by_one_s": statistics.median(single_s),
                "batched_s": statistics.median(batched_s),
            }
            row["ratio_batched_over_one_by_one"] = row["batched_s"] / row["one_by_one_s"]
            rows.append(row)
            print(
                f"{kind:<10} batch {batch:>2} ({kept:>3} kept frames): one by one {row['one_by_one_s'] * 1000:7.1f} ms, "
                f"batched {row['batched_s'] * 1000:7.1f} ms, ratio {row['ratio_batched_over_one_by_one']:.2f}",
                flush=True,
            )
    report = {
        "benchmark": "snac_batch",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
        },
        "repeats": args.repeats,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
