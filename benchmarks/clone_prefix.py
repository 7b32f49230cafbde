"""First audio of a cloned voice with and without the engine's prefix cache, 10 s and 30 s references.

A cloned voice's prompt opens with its reference recordings as audio tokens (about 82 a second),
the same for every request of the voice. With the prefix cache (GenerationRequest.keep_prefix) the
slot keeps their KV cells and a later request prefills only its own text; without it, every request
prefills the whole reference first. Both run here side by side on one model (two engines, one slot
each), alternating request by request, after one warm-up each (the cached side's warm-up is what
fills its cache). Reported: the median time to first audio, and the prompt tokens prefilled per
request.

Defaults: the tiny pretrained stand-in (coordinator/bench/synthetic.py) and a random SNAC, on the
CPU: cost depends on the shapes, not the weights. A real pretrained GGUF and SNAC can be named.
Prints a table and writes benchmarks/results/clone_prefix.json.

    python -m benchmarks.clone_prefix [--shape small] [--model PRETRAINED.gguf] [--snac SNAC_DIR] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import tempfile
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from coordinator.audio.format import SAMPLE_RATE
from coordinator.audio.snac_codec import load_snac
from coordinator.bench.shapes import SMALL, TINY
from coordinator.bench.synthetic import build_pretrained_orpheus_gguf, write_random_snac
from coordinator.engine.batch_engine import BatchEngine
from coordinator.engine.llama_model import LlamaModel
from coordinator.engine.sampling import SamplingParams
from coordinator.orpheus.clone import ClonedVoice, ReferenceSample
from coordinator.orpheus.vocab import OrpheusVocab
from coordinator.tts.synthesis import OrpheusTTS

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_SECONDS = (10, 30)
# A 30 s reference is ~2,500 tokens: room for it, the text and the few frames generated.
N_CTX = 4096
# Four frames: the first audio needs only the first window; the rest is not measured.
PARAMS = SamplingParams(max_tokens=28, temperature=1.0, top_p=1.0, repetition_penalty=1.1, seed=0)
LOOKAHEAD_FRAMES = 1
TEXTS = ("Hello there, how are you today?", "This is a second sentence.", "And one more to say.")
TONE_HZ = 170.0
TONE_LEVEL = 0.3


def reference_audio(seconds: float) -> np.ndarray:
    """A voiced-like tone with a slow loudness contour (the encoder's cost depends on length only)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = (1 + np.sin(2 * np.pi * 2.5 * t)) / 2
    return (TONE_LEVEL * envelope * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)


def first_audio(tts: OrpheusTTS, text: str, voice: ClonedVoice, *, cached: bool) -> tuple[float, float, int]:
    """Seconds to the first audio, of which to the first decodable window (the LLM's share), and
    the prompt tokens prefilled."""
    request = tts.request(text, voice, PARAMS)
    if not cached:
        request = replace(request, keep_prefix=0)
    before = tts.engine.stats.prompt_tokens
    speech = tts.start(request)
    for _ in speech:
        pass
    stats = speech.stats
    assert stats.first_audio_s is not None and stats.first_window_ready_s is not None
    return stats.first_audio_s, stats.first_window_ready_s, tts.engine.stats.prompt_tokens - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a pretrained Orpheus GGUF (default: the tiny stand-in)")
    parser.add_argument(
        "--shape",
        choices=("tiny", "small"),
        default="tiny",
        help="the stand-in's shape: small (~200 MB) is bound by reading weights, as a real model is",
    )
    parser.add_argument("--snac", type=Path, help="a SNAC 24 kHz directory (default: random weights)")
    parser.add_argument("--device", default="cpu", help="SNAC's device")
    parser.add_argument("--n-gpu-layers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "clone_prefix.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory() as scratch:
        shape = SMALL if args.shape == "small" else TINY
        model_path = args.model or build_pretrained_orpheus_gguf(
            Path(scratch) / "pretrained.gguf", shape=shape
        )
        snac_path = args.snac or write_random_snac(Path(scratch) / "snac")
        codec = load_snac(snac_path, torch.device(args.device))
        model = LlamaModel.load(model_path, n_gpu_layers=args.n_gpu_layers)
        vocab = OrpheusVocab.from_token_texts(model.token_texts())
        engines = {
            cached: BatchEngine(
                model, n_ctx_per_seq=N_CTX, max_sequences=1, n_threads=args.threads, name=f"cache-{cached}"
            )
            for cached in (False, True)
        }
        speakers = {
            cached: OrpheusTTS(
                engine, vocab, codec, voices=[], lookahead_frames=LOOKAHEAD_FRAMES, clones=True, quant="bench"
            )
            for cached, engine in engines.items()
        }
        rows = []
        try:
            for seconds in REFERENCE_SECONDS:
                frames = codec.encode(reference_audio(seconds))
                sample = ReferenceSample(
                    transcript="This is what my voice sounds like when I talk.", frames=frames
                )
                voice = ClonedVoice(
                    id=f"voice_bench{seconds}", name=f"bench{seconds}", samples=(sample,), created_at=0
                )
                timings: dict[bool, list[float]] = {False: [], True: []}
                window: dict[bool, list[float]] = {False: [], True: []}
                prefilled: dict[bool, list[int]] = {False: [], True: []}
                for cached, tts in speakers.items():
                    first_audio(tts, TEXTS[0], voice, cached=cached)  # warm-up; fills the cache
                for repeat in range(args.repeats):
                    text = TEXTS[repeat % len(TEXTS)]
                    for cached, tts in speakers.items():
                        seconds_to_audio, to_window, tokens = first_audio(tts, text, voice, cached=cached)
                        timings[cached].append(seconds_to_audio)
                        window[cached].append(to_window)
                        prefilled[cached].append(tokens)
                without, with_cache = (statistics.median(timings[c]) for c in (False, True))
                rows.append(
                    {
                        "reference_s": seconds,
                        "reference_tokens": int(sample.n_tokens),
                        "first_audio_s_without_cache": round(without, 4),
                        "first_audio_s_with_cache": round(with_cache, 4),
                        "speedup": round(without / with_cache, 2),
                        "first_window_ready_s_without_cache": round(statistics.median(window[False]), 4),
                        "first_window_ready_s_with_cache": round(statistics.median(window[True]), 4),
                        "prompt_tokens_prefilled_without_cache": statistics.median(prefilled[False]),
                        "prompt_tokens_prefilled_with_cache": statistics.median(prefilled[True]),
                    }
                )
        finally:
            for engine in engines.values():
                engine.close()
            model.close()

    print(
        f"{'reference':>9} {'tokens':>7} {'no cache s':>11} {'cache s':>9} {'speedup':>8} {'prefill no/yes':>15}"
    )
    for row in rows:
        print(
            f"{row['reference_s']:>8}s {row['reference_tokens']:>7} {row['first_audio_s_without_cache']:>11.3f} "
            f"{row['first_audio_s_with_cache']:>9.3f} {row['speedup']:>7.1f}x "
            f"{row['prompt_tokens_prefilled_without_cache']:>7}/{row['prompt_tokens_prefilled_with_cache']}"
        )
    report = {
        "benchmark": "clone_prefix",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "model": str(args.model) if args.model else f"{args.shape} pretrained stand-in (random weights)",
        "snac": str(args.snac) if args.snac else "random weights",
        "device": args.device,
        "n_gpu_layers": args.n_gpu_layers,
        "repeats": args.repeats,
        "max_tokens": PARAMS.max_tokens,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
