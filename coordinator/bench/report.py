"""What the capacity sweep's figures mean for a user: the recommendation and the printed table. Pure.

A level is ``coordinator.bench.load.summarize``'s dict for N concurrent streams. A level holds
real time when no stream stalled (playback started at the first byte never ran dry) and the
slowest streams (p95) were produced faster than they play. The recommendation keeps a margin
below that: the largest N whose p95 real-time factor is at most ``margin``, so a busier moment,
longer texts or /chat turns on the same GPU do not tip every stream into stalls.
"""

from __future__ import annotations

from dataclasses import dataclass

REAL_TIME_FACTOR_LIMIT = 1.0  # wall time / audio time: above 1 a listener waits
DEFAULT_MARGIN = 0.8  # recommend only levels whose p95 real-time factor is at most this
GIB = 1024**3


def holds_real_time(level: dict) -> bool:
    return within_margin(level, REAL_TIME_FACTOR_LIMIT)


def within_margin(level: dict, margin: float) -> bool:
    """A level cut by the time budget, or whose streams failed, proves nothing, so it holds nothing."""
    if level.get("cut_by_budget") or level.get("failed"):
        return False
    return level["streams_behind_real_time"] == 0 and level["rtf_p95"] <= margin


@dataclass(frozen=True)
class MemoryNeed:
    """Bytes a server with ``streams`` slots of ``n_ctx`` tokens needs: both models' weights, KV
    caches and compute buffers (coordinator/runtime/memory_plan.py's plan, the one `serve` checks at
    start), and SNAC's measured peak (GPU only; 0 when not measured)."""

    streams: int
    n_ctx: int
    weights: int
    kv_cache: int
    compute: int
    snac: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute + self.snac

    def as_dict(self) -> dict:
        return {
            "streams": self.streams,
            "n_ctx": self.n_ctx,
            "weights_bytes": self.weights,
            "kv_cache_bytes": self.kv_cache,
            "compute_bytes": self.compute,
            "snac_bytes": self.snac,
            "total_bytes": self.total,
        }


def recommend(levels: list[dict], margin: float = DEFAULT_MARGIN) -> int:
    """Largest measured N within the margin, if every smaller measured N was too; 0 if none was."""
    best = 0
    for level in sorted(levels, key=lambda lv: lv["streams"]):
        if not within_margin(level, margin):
            break
        best = level["streams"]
    return best


def next_level(done: list[dict], max_streams: int, *, refine: int = 2) -> int | None:
    """The next N to measure, or None when done: doubling from 1 while real time holds (up to
    ``max_streams``), then up to ``refine`` bisections between the largest N that held and the
    smallest that did not."""
    measured = {lv["streams"]: lv for lv in done}
    if not measured:
        return 1
    broke = sorted(n for n, lv in measured.items() if not holds_real_time(lv))
    if not broke:
        top = max(measured)
        return None if top >= max_streams else min(top * 2, max_streams)
    high = broke[0]
    low = max((n for n, lv in measured.items() if n < high and holds_real_time(lv)), default=0)
    middle = (low + high) // 2
    if len(set(measured) - _doublings(max_streams)) >= refine or middle <= low:
        return None
    return middle


def _doublings(max_streams: int) -> set[int]:
    levels, n = set(), 1
    while n < max_streams:
        levels.add(n)
        n *= 2
    levels.add(max_streams)
    return levels


def table(levels: list[dict]) -> str:
    """One line per level, in the order of stream counts."""
    lines = [
        f"{'streams':>7} {'TTFA p50':>9} {'TTFA p95':>9} {'RTF p50':>8} {'RTF p95':>8} {'stalled':>7} "
        f"{'tokens/s':>9}  real time"
    ]
    for lv in sorted(levels, key=lambda lv: lv["streams"]):
        if lv.get("cut_by_budget"):
            lines.append(f"{lv['streams']:>7}  cut by --max-seconds")
            continue
        if lv.get("failed"):
            lines.append(f"{lv['streams']:>7}  failed: {lv['failed']}")
            continue
        verdict = "held" if holds_real_time(lv) else "broke"
        lines.append(
            f"{lv['streams']:>7} {lv['first_audio_s_p50'] * 1000:>7.0f}ms {lv['first_audio_s_p95'] * 1000:>7.0f}ms "
            f"{lv['rtf_p50']:>8.2f} {lv['rtf_p95']:>8.2f} {lv['streams_behind_real_time']:>7} "
            f"{lv['audio_tokens_per_s']:>9.0f}  {verdict}"
        )
    return "\n".join(lines)


def gib(n_bytes: int) -> str:
    return f"{n_bytes / GIB:.1f} GiB"


def summary(report: dict, saved: object) -> str:
    """What `coordinator bench` prints when it is done: the table, then one line per finding."""
    lines = [table(report["levels"])]
    single = report["single_stream"]
    if single:
        lines.append(
            f"one stream: {single['audio_tokens_per_s']:.0f} audio tokens/s, first audio "
            f"{single['first_audio_s'] * 1000:.0f} ms, {single['real_time_multiple']:.2f}x real time"
        )
    chat = report["chat_first_audio_s"]
    if chat["median"] is not None:
        lines.append(f"/chat first audio: {chat['median'] * 1000:.0f} ms (median of {len(chat['runs'])})")
    for row in report.get("cloned_voices", {}).get("references", []):
        if "first_audio_s_cold" in row:
            lines.append(
                f"custom voice, {row['reference_s']:.0f} s reference: first audio "
                f"{row['first_audio_s_cold'] * 1000:.0f} ms cold, {row['first_audio_s_warm_p50'] * 1000:.0f} ms "
                "with its reference cached"
            )
    lines += _listening_lines(report.get("listening", {}))
    rec = report["recommendation"]
    need = rec["memory_needed"]
    if rec["max_concurrent_streams"]:
        lines.append(
            f"recommended: MAX_CONCURRENT_STREAMS={rec['max_concurrent_streams']} ({rec['rule']}); needs about "
            f"{gib(need['total_bytes'])} at N_CTX={need['n_ctx']} (weights {gib(need['weights_bytes'])}, "
            f"KV cache {gib(need['kv_cache_bytes'])}, compute {gib(need['compute_bytes'])}, "
            f"SNAC {gib(need['snac_bytes'])})"
        )
    elif single:
        lines.append(
            "recommended: none: not even one stream stayed within the margin of real time on this host"
        )
    else:
        lines.append("recommended: none: nothing was measured (raise --max-seconds)")
    lines.append(f"stopped by: {report['stopped_by']}; saved {saved}")
    return "\n".join(lines)


def _listening_lines(listening: dict) -> list[str]:
    """Checking off, timings on, checking on, side by side (bench/listening.py)."""
    if not listening:
        return []
    if "skipped" in listening:
        return [f"listening: skipped ({listening['skipped']})"]
    cells = []
    for mode, row in listening.items():
        first = row["first_audio_s_single"]
        cells.append(
            f"{mode}: {row['streams_held_at_real_time']} stream(s) held at real time "
            f"({row['streams_generated_faster_than_real_time']} faster than it), first audio "
            + (f"{first * 1000:.0f} ms" if first is not None else "not measured")
        )
    return ["listening: " + "; ".join(cells)]
