"""Token throughput of the batch engine alone: N concurrent Orpheus requests vs one, same run.

No SNAC and no HTTP: this isolates what continuous batching in llama.cpp buys (one llama_batch
per step for all sequences) from the audio decoder, which benchmarks/load.py measures end to end.
Each run generates a fixed number of audio tokens per request (the frame constraint on, stop
tokens never chosen since max_tokens ends every request first); runs alternate, repeated.

Also reports fairness while N stream: each stream's share of the tokens at the moment the first
stream finished (1.0 for every stream = perfectly even), and the latency of one more request
(first token) submitted while N - 1 others are generating, against the same request alone.

    python -m benchmarks.engine_throughput --tiny [--streams 8] [--tokens 280] [--repeats 3]
    python -m benchmarks.engine_throughput --small          # weight-bound steps, as with a real model
    python -m benchmarks.engine_throughput --model models/orpheus-3b-0.1-ft-q8_0.gguf --n-gpu-layers -1
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from coordinator.engine.batch_engine import BatchEngine, GenerationRequest
from coordinator.engine.llama_model import LlamaModel
from coordinator.engine.sampling import SamplingParams
from coordinator.orpheus.constraint import AudioTokenConstraint
from coordinator.orpheus.prompt import build_prompt, prompt_text
from coordinator.orpheus.vocab import OrpheusVocab
from coordinator.runtime.loading import available_cpus
from tests.rig.tiny_gguf import SMALL, TINY, build_orpheus_gguf

ROOT = Path(__file__).resolve().parent.parent

PROMPT = "Streaming speech should start before the sentence is finished."


def request(model: LlamaModel, vocab: OrpheusVocab, tokens: int, seed: int) -> GenerationRequest:
    prompt = build_prompt(vocab, model.tokenize(prompt_text("tara", PROMPT)))
    return GenerationRequest(
        prompt=prompt,
        params=SamplingParams(
            max_tokens=tokens, temperature=0.6, top_p=0.8, repetition_penalty=1.3, seed=seed
        ),
        constraint=AudioTokenConstraint(vocab),
        # No stop ids: every request runs to max_tokens, so each run does the same work.
    )


def run(engine: BatchEngine, requests: list[GenerationRequest]) -> dict:
    """Submit all at once; tokens/s over the whole run and each stream's share when the first ends."""
    counts = [0] * len(requests)
    first_token_s: list[float | None] = [None] * len(requests)
    shares: list[float] = []
    done = threading.Event()
    started = time.perf_counter()
    streams = [engine.submit(r) for r in requests]

    def consume(index: int) -> None:
        stream = streams[index]
        while True:
            batch = stream.next_batch()
            if batch.tokens and first_token_s[index] is None:
                first_token_s[index] = time.perf_counter() - started
            counts[index] += len(batch.tokens)
            if batch.finished:
                break
        if not done.is_set():
            done.set()
            expected = counts[index]
            shares.extend(count / expected for count in counts)

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "tokens": sum(counts),
        "wall_s": wall,
        "tokens_per_s": sum(counts) / wall,
        "min_share_when_first_finished": min(shares),
        "first_token_s": first_token_s,
    }


def newcomer_first_token_s(
    engine: BatchEngine, model: LlamaModel, vocab: OrpheusVocab, others: int, tokens: int
) -> float:
    """First-token latency of a request submitted while ``others`` are mid-generation."""
    background = [engine.submit(request(model, vocab, tokens * 4, seed=100 + i)) for i in range(others)]
    for stream in background:  # wait until every one of them is generating
        stream.next_batch()
    started = time.perf_counter()
    stream = engine.submit(request(model, vocab, tokens, seed=7))
    while not stream.next_batch().tokens:
        pass
    latency = time.perf_counter() - started
    for s in [stream, *background]:
        s.cancel()
    return latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--tiny", action="store_true", help="the tiny random test model, built here")
    target.add_argument(
        "--small",
        action="store_true",
        help="a larger random model (8 x 512, ~200 MB), built here: weight-bound per step like a real model",
    )
    target.add_argument("--model", type=Path, help="an Orpheus GGUF")
    parser.add_argument("--n-gpu-layers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=available_cpus(), help="llama.cpp threads")
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=280, help="audio tokens per request (280 = 40 frames)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "engine_throughput.json"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.model is not None:
            path = args.model
        else:
            path = build_orpheus_gguf(Path(tmp) / "orpheus.gguf", shape=SMALL if args.small else TINY)
        model = LlamaModel.load(path, n_gpu_layers=args.n_gpu_layers)
        vocab = OrpheusVocab.from_token_texts(model.token_texts())
        engine = BatchEngine(
            model,
            n_ctx_per_seq=1024 + args.tokens * 4,
            max_sequences=args.streams,
            n_threads=args.threads,
            name="bench",
        )
        try:
            run(engine, [request(model, vocab, 14, seed=0)])  # warm-up
            single, batched = [], []
            for repeat in range(args.repeats):
                single.append(run(engine, [request(model, vocab, args.tokens, seed=repeat)]))
                batched.append(
                    run(
                        engine,
                        [
                            request(model, vocab, args.tokens, seed=repeat * 100 + i)
                            for i in range(args.streams)
                        ],
                    )
                )
            alone = [
                newcomer_first_token_s(engine, model, vocab, 0, args.tokens) for _ in range(args.repeats)
            ]
            crowded = [
                newcomer_first_token_s(engine, model, vocab, args.streams - 1, args.tokens)
                for _ in range(args.repeats)
            ]
        finally:
            engine.close()
            model.close()

    single_tps = statistics.median(r["tokens_per_s"] for r in single)
    batched_tps = statistics.median(r["tokens_per_s"] for r in batched)
    report = {
        "benchmark": "engine_throughput",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "model": str(args.model)
            if args.model
            else f"random Orpheus-like GGUF, {'small' if args.small else 'tiny'}: {SMALL if args.small else TINY}",
            "n_gpu_layers": args.n_gpu_layers,
            "threads": args.threads,
        },
        "streams": args.streams,
        "tokens_per_request": args.tokens,
        "single_tokens_per_s": single_tps,
        "concurrent_tokens_per_s": batched_tps,
        "ratio_concurrent_over_single": batched_tps / single_tps,
        "min_share_when_first_finished": min(r["min_share_when_first_finished"] for r in batched),
        "newcomer_first_token_s_alone": statistics.median(alone),
        "newcomer_first_token_s_with_others": statistics.median(crowded),
        "runs": {"single": single, "concurrent": batched},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"aggregate tokens/s: 1 stream {single_tps:.0f}, {args.streams} streams {batched_tps:.0f}")
    print(f"ratio {args.streams} streams / 1 stream: {report['ratio_concurrent_over_single']:.2f}")
    print(
        f"fairness: smallest share of tokens when the first stream finished: {report['min_share_when_first_finished']:.2f}"
    )
    print(
        f"first token of a new request: alone {report['newcomer_first_token_s_alone'] * 1000:.0f} ms, "
        f"with {args.streams - 1} streaming {report['newcomer_first_token_s_with_others'] * 1000:.0f} ms"
    )
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
