"""What llama.cpp's CPU weight repack buys: decode speed with CPU_WEIGHT_REPACK on vs off, one run.

The same random Orpheus-like GGUF (Q8_0 and Q4_K_M, written here by the bench's own writer)
loaded twice on the CPU, once with llama.cpp's extra buffer types (``use_extra_bufts``: AMX and
the generic CPU_REPACK) and once without, each on its own batch engine; runs alternate on/off,
repeated, so machine noise hits both alike. Audio tokens per second of 1 stream and of N concurrent
streams (the whole run: a short prompt, then ``--tokens`` decoded tokens each), the first token's
time, and how many tensors llama.cpp repacked (from its own log: 0 means the repack did nothing
for that quantization on this CPU). Weight values do not change the speed, only shapes and types.

What it measures depends on the CPU: on one without AMX (or a build without it), the generic
CPU_REPACK path (on x86: Q4_0, Q4_K, IQ4_NL, Q2_K; nothing for Q8_0); on an AMX CPU where the AMX
path works, AMX. Where the AMX path crashes, the "on" half dies with it: run it elsewhere.

    python -m benchmarks.weight_repack [--shape small|3b] [--streams 4] [--tokens 140] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
from datetime import datetime, timezone
from pathlib import Path

import llama_cpp

from benchmarks.engine_throughput import request, run
from coordinator.bench.shapes import ORPHEUS_3B, SMALL
from coordinator.bench.synthetic import build_orpheus_gguf
from coordinator.engine.batch_engine import BatchEngine
from coordinator.engine.llama_model import LlamaModel, weight_repack_enabled
from coordinator.engine.weight_repack import read_cpu_flags
from coordinator.orpheus.vocab import OrpheusVocab
from coordinator.runtime.loading import available_cpus

ROOT = Path(__file__).resolve().parent.parent

SHAPES = {"small": SMALL, "3b": ORPHEUS_3B}
QUANTS = ("Q8_0", "Q4_K_M")
WARM_UP_TOKENS = 14
PROMPT_ROOM_TOKENS = 256  # context beyond the generated tokens: the prompt and a margin
REPACK_LINE = "repack tensor"  # llama.cpp's debug line for each tensor it re-lays (repack.cpp)


class _RepackCounter(logging.Handler):
    """Counts llama.cpp's "repack tensor ..." lines while a model loads."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += REPACK_LINE in record.getMessage()


def _load(path: Path, repack: bool) -> tuple[LlamaModel, int]:
    counter = _RepackCounter()
    llama_log = logging.getLogger("coordinator.llama_cpp")
    level, propagate = llama_log.level, llama_log.propagate
    llama_log.setLevel(logging.DEBUG)
    llama_log.propagate = False  # counted, not printed
    llama_log.addHandler(counter)
    try:
        model = LlamaModel.load(path, n_gpu_layers=0, cpu_weight_repack=repack)
    finally:
        llama_log.removeHandler(counter)
        llama_log.setLevel(level)
        llama_log.propagate = propagate
    return model, counter.count


def measure(path: Path, args: argparse.Namespace) -> dict:
    """Both variants of one model, alternating; medians and the off/on ratios."""
    variants: dict[str, dict] = {}
    try:
        for name, repack in (("on", True), ("off", False)):
            model, repacked = _load(path, repack)
            engine = BatchEngine(
                model,
                n_ctx_per_seq=PROMPT_ROOM_TOKENS + args.tokens,
                max_sequences=args.streams,
                n_threads=args.threads,
                name=f"repack-{name}",
            )
            vocab = OrpheusVocab.from_token_texts(model.token_texts())
            variants[name] = {"model": model, "engine": engine, "vocab": vocab, "repacked": repacked}
            run(engine, [request(model, vocab, WARM_UP_TOKENS, seed=0)])
        runs: dict[str, dict[str, list[dict]]] = {name: {"single": [], "concurrent": []} for name in variants}
        for repeat in range(args.repeats):
            for name, v in variants.items():
                model, vocab, engine = v["model"], v["vocab"], v["engine"]
                runs[name]["single"].append(run(engine, [request(model, vocab, args.tokens, seed=repeat)]))
                batch = [
                    request(model, vocab, args.tokens, seed=repeat * 100 + i) for i in range(args.streams)
                ]
                runs[name]["concurrent"].append(run(engine, batch))
    finally:
        for v in variants.values():
            v["engine"].close()
            v["model"].close()

    result: dict = {}
    for name, v in variants.items():
        single, concurrent = runs[name]["single"], runs[name]["concurrent"]
        result[name] = {
            "tensors_repacked": v["repacked"],
            "single_tokens_per_s": statistics.median(r["tokens_per_s"] for r in single),
            "concurrent_tokens_per_s": statistics.median(r["tokens_per_s"] for r in concurrent),
            "single_first_token_s": statistics.median(r["first_token_s"][0] for r in single),
            "runs": runs[name],
        }
    for key in ("single_tokens_per_s", "concurrent_tokens_per_s"):
        result[f"ratio_off_over_on_{key}"] = result["off"][key] / result["on"][key]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shape",
        choices=SHAPES,
        default="small",
        help="small: 8 x 512, weight-bound steps; 3b: Orpheus 3B's (4 GB in Q8_0)",
    )
    parser.add_argument("--quants", nargs="+", choices=QUANTS, default=list(QUANTS))
    parser.add_argument(
        "--models-dir", type=Path, default=ROOT / "models" / "synthetic", help="written once, reused"
    )
    parser.add_argument("--threads", type=int, default=available_cpus(), help="llama.cpp threads")
    parser.add_argument("--streams", type=int, default=4, help="concurrent streams of the batched runs")
    parser.add_argument("--tokens", type=int, default=140, help="audio tokens per request (140 = 20 frames)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=None, help="default: benchmarks/results/weight_repack_SHAPE.json"
    )
    args = parser.parse_args()
    args.out = args.out or ROOT / "benchmarks" / "results" / f"weight_repack_{args.shape}.json"
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("coordinator.llama_cpp").setLevel(logging.ERROR)

    shape = SHAPES[args.shape]
    args.models_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for quant in args.quants:
        path = build_orpheus_gguf(
            args.models_dir / f"orpheus-{args.shape}-random-{quant}.gguf",
            shape=shape,
            quant=quant,
            real_ids=args.shape != "small",
        )
        logging.info("measuring %s (%s), repack on vs off...", path.name, quant)
        results[quant] = measure(path, args)

    flags = read_cpu_flags() or frozenset()
    report = {
        "benchmark": "weight_repack",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_has_amx": "amx_int8" in flags,
            "llama_cpp_python": llama_cpp.__version__,
            "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode().strip(),
            "threads": args.threads,
            "default_cpu_weight_repack_on_here": weight_repack_enabled("auto"),
        },
        "model": f"random Orpheus-like GGUF, {args.shape}: {shape}",
        "streams": args.streams,
        "tokens_per_request": args.tokens,
        "repeats": args.repeats,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(
        f"{'quant':<8} {'repack':<7} {'repacked':>9} {'1 stream tok/s':>15} {f'{args.streams} streams tok/s':>17}"
    )
    for quant, r in results.items():
        for name in ("on", "off"):
            v = r[name]
            print(
                f"{quant:<8} {name:<7} {v['tensors_repacked']:>9} {v['single_tokens_per_s']:>15.1f} "
                f"{v['concurrent_tokens_per_s']:>17.1f}"
            )
        print(
            f"{quant:<8} off/on  {'':>9} {r['ratio_off_over_on_single_tokens_per_s']:>15.2f} "
            f"{r['ratio_off_over_on_concurrent_tokens_per_s']:>17.2f}"
        )
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
