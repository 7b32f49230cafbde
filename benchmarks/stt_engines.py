"""Speech in on this CPU: faster-whisper (CTranslate2) on a random-weight Whisper of
openai/whisper-tiny's shape (39 M parameters; real weights cannot be downloaded here), by compute
type (int8, the CPU default, vs float32) and beam size (1, the default, vs 5).

Each setting transcribes the same 30 s of espeak-ng speech (recorded in tests/rig/speech/): no
temperature fallback, no timestamps, at most MAX_TOKENS tokens per window, the same thread count,
alternating, repeated.
Random weights write random tokens, and settings may stop at different lengths: the tokens each
wrote are reported with the time. Cost depends on the architecture and the token count, not on
what the weights mean. Prints a table and writes benchmarks/results/stt_engines.json.

(whisper.cpp through pywhispercpp was tried side by side on the same shape written as a ggml
file: it loaded, then every decode failed inside whisper.cpp with ``map::at``; see README.)

    python -m benchmarks.stt_engines [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from coordinator.stt.audio import decode_audio
from coordinator.stt.transcript import SAMPLE_RATE
from tests.rig.audio_samples import encode, silence, spoken
from tests.rig.tiny_whisper import WHISPER_TINY_DIMS, build_tiny_whisper

ROOT = Path(__file__).resolve().parent.parent

AUDIO_S = 30.0
MAX_TOKENS = 64
SENTENCE = "The quick brown fox jumps over the lazy dog, and then it runs into the forest to hide."


def _audio() -> np.ndarray:
    samples, rate = spoken(SENTENCE)
    speech = decode_audio(encode(samples, rate, "wav"), max_seconds=AUDIO_S)
    reps = int(AUDIO_S * SAMPLE_RATE) // speech.size + 1
    audio = np.concatenate([np.concatenate([speech, silence(0.5, SAMPLE_RATE)])] * reps)
    return audio[: int(AUDIO_S * SAMPLE_RATE)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from faster_whisper import WhisperModel

    audio = _audio()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        ct2_dir = build_tiny_whisper(Path(tmp) / "ct2", dims=WHISPER_TINY_DIMS)
        print(f"model written in {time.perf_counter() - started:.1f} s")
        models, loads = {}, {}
        for compute_type in ("int8", "float32"):
            started = time.perf_counter()
            models[compute_type] = WhisperModel(
                str(ct2_dir), device="cpu", compute_type=compute_type, cpu_threads=args.threads
            )
            loads[compute_type] = time.perf_counter() - started

        def setting(compute_type: str, beam_size: int):
            def run() -> int:
                segments, _ = models[compute_type].transcribe(
                    audio,
                    language="en",
                    beam_size=beam_size,
                    temperature=0.0,
                    without_timestamps=True,
                    condition_on_previous_text=False,
                    max_new_tokens=MAX_TOKENS,
                )
                return sum(len(s.tokens) for s in segments)

            return run

        settings = {
            f"{compute_type} beam {beam}": (compute_type, setting(compute_type, beam))
            for compute_type in ("int8", "float32")
            for beam in (1, 5)
        }
        for _, run in settings.values():
            run()  # warm-up: first-call costs out of the figures
        times: dict[str, list[float]] = {name: [] for name in settings}
        tokens: dict[str, int] = {}
        for _ in range(args.repeats):
            for name, (_, run) in settings.items():
                started = time.perf_counter()
                tokens[name] = run()
                times[name].append(time.perf_counter() - started)

    base = statistics.median(times["int8 beam 1"])
    rows = []
    print(f"\n30 s of speech, whisper-tiny shape, {args.threads} threads, median of {args.repeats}")
    print(
        f"{'setting':<18} {'load s':>7} {'median s':>9} {'x realtime':>11} {'tokens':>7} {'vs int8 beam 1':>15}"
    )
    for name, samples in times.items():
        median = statistics.median(samples)
        load = loads[settings[name][0]]
        rows.append(
            {
                "setting": name,
                "load_s": round(load, 3),
                "median_s": round(median, 3),
                "realtime_factor": round(AUDIO_S / median, 1),
                "tokens_written": tokens[name],
                "ratio_to_int8_beam_1": round(median / base, 2),
                "runs_s": [round(t, 3) for t in samples],
            }
        )
        print(
            f"{name:<18} {load:>7.2f} {median:>9.3f} {AUDIO_S / median:>11.1f} {tokens[name]:>7} {median / base:>15.2f}"
        )
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "threads": args.threads,
        "audio_s": AUDIO_S,
        "max_tokens": MAX_TOKENS,
        "dims": WHISPER_TINY_DIMS.__dict__,
        "note": "faster-whisper on random weights of whisper-tiny's shape",
        "rows": rows,
    }
    out = ROOT / "benchmarks" / "results" / "stt_engines.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
