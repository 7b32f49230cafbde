"""Text normalisation cost: time per utterance and per 1,000 characters for every served language,
on the language's table of real-text cases (tests/normalize/cases_<lang>.py: news, recipes,
invoices, chat replies), each case one utterance. The first call per language (CLDR rules loaded,
the scanning pattern compiled) is timed apart as the cold start.

Prints a table and writes benchmarks/results/normalize.json.

    python -m benchmarks.normalize [--repeats 20]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

from coordinator.normalize.api import LEXICONS, spoken_form

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "normalize.json"
CHARS_PER_UNIT = 1000
MS = 1000


def _cases(language: str) -> list[str]:
    module = importlib.import_module(f"tests.normalize.cases_{language}")
    return [written for written, _ in module.CASES]


def measure(language: str, repeats: int) -> dict[str, float]:
    texts = _cases(language)
    started = time.perf_counter()
    spoken_form(texts[0], language)
    cold_ms = (time.perf_counter() - started) * MS
    per_utterance: list[float] = []
    per_thousand: list[float] = []
    for _ in range(repeats):
        for text in texts:
            started = time.perf_counter()
            spoken_form(text, language)
            elapsed_ms = (time.perf_counter() - started) * MS
            per_utterance.append(elapsed_ms)
            per_thousand.append(elapsed_ms / len(text) * CHARS_PER_UNIT)
    characters = sum(len(text) for text in texts) * repeats
    return {
        "utterances": len(texts),
        "mean_chars_per_utterance": round(characters / repeats / len(texts), 1),
        "cold_start_ms": round(cold_ms, 2),
        "per_utterance_ms_p50": round(statistics.median(per_utterance), 3),
        "per_utterance_ms_p95": round(statistics.quantiles(per_utterance, n=20)[-1], 3),
        # The mean carries the machine's noise (a shared host); the median is the typical cost.
        "per_1000_chars_ms_mean": round(sum(per_utterance) / characters * CHARS_PER_UNIT, 3),
        "per_1000_chars_ms_median": round(statistics.median(per_thousand), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    results = {language: measure(language, args.repeats) for language in LEXICONS}
    header = f"{'lang':<5} {'cases':>5} {'chars':>6} {'cold ms':>8} {'p50 ms':>7} {'p95 ms':>7}"
    print(f"{header} {'ms/1000 ch median':>17} {'mean':>7}")
    for language, row in results.items():
        print(
            f"{language:<5} {row['utterances']:>5} {row['mean_chars_per_utterance']:>6} {row['cold_start_ms']:>8}"
            f" {row['per_utterance_ms_p50']:>7} {row['per_utterance_ms_p95']:>7}"
            f" {row['per_1000_chars_ms_median']:>17} {row['per_1000_chars_ms_mean']:>7}"
        )
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "repeats": args.repeats,
        "languages": results,
    }
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
