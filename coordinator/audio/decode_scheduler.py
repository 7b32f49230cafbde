"""SNAC for every stream at once: one decode thread, one batched call per group of like windows.

Streams hand the windows the planner released to the scheduler and await their samples. Each turn
the worker groups the pending windows of the same shape (frames, kept range) and decodes the most
urgent group (earliest deadline: when a listener runs out of audio) in one batched call. Streams
in the same phase (most of them, once past their first windows: 16 kept frames between 3 + 3 of
context) then share one call instead of queueing one after another, and a new stream's first
window goes ahead of streams that still have audio in hand.

How much to put in one call depends on the device. On a GPU a batch of many windows costs little
more than one. On a CPU only small windows gain (measured by benchmarks/snac_batch_bench.py: several
1–2 frame windows together cost 0.7–0.85 of decoding them one by one, but 4 windows of 16 frames
together cost about twice as much, their activations no longer fitting the caches), so the frames
per call are capped by ``batch_frames``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import torch

from coordinator.audio.snac_codec import OUT_OF_MEMORY_ERRORS, OUT_OF_MEMORY_MESSAGE
from coordinator.clock import MONOTONIC, Clock
from coordinator.errors import AudioDecodeError, CoordinatorError, DeviceOutOfMemoryError

_T = TypeVar("_T")

logger = logging.getLogger(__name__)

# Kept frames per batched call. CPU: measured (module docstring). GPU: 32 streams x 16-frame
# windows, so a full tick of steady-state windows is one call.
CPU_BATCH_FRAMES = 8
GPU_BATCH_FRAMES = 512
# Quiet this long after its last call, the decoder counts as idle and runs its on_idle hook once
# (the server's: give freed heap back to the OS) — between requests, never between a stream's windows.
IDLE_AFTER_S = 1.0


class BatchCodec(Protocol):
    def decode_batch(self, frames: np.ndarray, keep_start: int, keep_end: int) -> np.ndarray:
        """(B, n, 7) windows → (B, samples of frames [keep_start, keep_end))."""
        ...


WindowShape = tuple[int, int, int]  # (frames, keep_start, keep_end)


@dataclass(eq=False)
class DecodeJob:
    frames: np.ndarray
    keep_start: int
    keep_end: int
    # When the listener runs out of audio without this window (the scheduler's clock's seconds).
    deadline: float = 0.0
    future: Future[np.ndarray] = field(default_factory=Future)

    @property
    def shape(self) -> WindowShape:
        return (len(self.frames), self.keep_start, self.keep_end)

    @property
    def kept_frames(self) -> int:
        return self.keep_end - self.keep_start


def plan_batches(jobs: Iterable[DecodeJob], batch_frames: int) -> list[list[DecodeJob]]:
    """Group jobs of one shape into calls of at most ``batch_frames`` kept frames (but always at
    least one window), most urgent first: by deadline within a group, and calls by their most
    urgent window. Ties keep submission order."""
    groups: dict[WindowShape, list[DecodeJob]] = {}
    for job in sorted(jobs, key=lambda job: job.deadline):
        groups.setdefault(job.shape, []).append(job)
    batches: list[list[DecodeJob]] = []
    for group in groups.values():
        per_call = max(1, batch_frames // group[0].kept_frames)
        batches.extend(group[i : i + per_call] for i in range(0, len(group), per_call))
    return sorted(batches, key=lambda batch: batch[0].deadline)


def domain_error(exc: Exception) -> CoordinatorError:
    """What a failed decode means to the stream waiting for it: out of memory is transient (503,
    retry), anything else a server-side decode failure; never the raw torch exception, whose text
    and class the HTTP layer knows nothing about."""
    if isinstance(exc, CoordinatorError):
        return exc
    error: CoordinatorError
    # The codec maps its own; this catches any other BatchCodec's.
    if isinstance(exc, OUT_OF_MEMORY_ERRORS):
        error = DeviceOutOfMemoryError(OUT_OF_MEMORY_MESSAGE)
    else:
        error = AudioDecodeError(f"SNAC failed to decode audio ({type(exc).__name__}): see the server log")
    error.__cause__ = exc  # for the log, which shows the original
    return error


def _release_cached_memory() -> None:
    """After an out-of-memory error, hand torch's cached blocks back so the next call can fit."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


@dataclass
class BatchTally:
    """Successful calls of one batch size (windows per call): what `coordinator bench` reports."""

    calls: int = 0
    frames: int = 0
    seconds: float = 0.0


@dataclass
class DecodeStats:
    windows: int = 0
    calls: int = 0
    frames: int = 0
    busy_s: float = 0.0
    largest_batch: int = 0
    failures: int = 0
    by_batch: dict[int, BatchTally] = field(default_factory=dict)


class DecodeScheduler:
    """Owns the codec: every decode of every stream runs on this scheduler's one thread."""

    def __init__(
        self,
        codec: BatchCodec,
        *,
        batch_frames: int,
        name: str = "snac",
        on_idle: Callable[[], object] | None = None,
        idle_after_s: float = IDLE_AFTER_S,
        clock: Clock = MONOTONIC,
    ) -> None:
        if batch_frames < 1:
            raise ValueError("batch_frames must be at least 1")
        self.codec = codec
        self.batch_frames = batch_frames
        self.on_idle = on_idle
        self.idle_after_s = idle_after_s
        self.clock = clock  # deadlines and the idle wait; not the busy time (real CPU seconds)
        self.idle_runs = 0
        self.stats = DecodeStats()
        self._pending: list[DecodeJob] = []
        self._calls: list[tuple[Callable[[], Any], Future[Any]]] = []
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"{name}-decoder", daemon=True)
        self._thread.start()

    def submit(
        self, frames: np.ndarray, keep_start: int, keep_end: int, *, deadline: float | None = None
    ) -> Future[np.ndarray]:
        """Decode ``frames`` (context included) and resolve to the samples of [keep_start, keep_end).

        ``deadline`` (seconds of the scheduler's ``clock``; default now): when its listener runs out of audio
        without this window. The most urgent call goes first, so a new stream's first window does
        not wait behind the large windows of streams that have seconds of audio in hand.
        Cancelling the future before its call drops the window; await it with asyncio.wrap_future.
        """
        job = DecodeJob(
            np.array(frames, dtype=np.int64),
            keep_start,
            keep_end,
            deadline=self.clock.now() if deadline is None else deadline,
        )
        with self._wake:
            if self._stopping:
                raise RuntimeError("the SNAC decoder is shut down")
            self._pending.append(job)
            self._wake.notify()
        return job.future

    def call(self, fn: Callable[[], _T]) -> Future[_T]:
        """Run ``fn`` on the decode thread, ahead of the windows waiting (e.g. SNAC's encoder on
        a new voice's reference): the codec is only ever used from this one thread, so an encode
        never races a decode on the device."""
        future: Future[_T] = Future()
        with self._wake:
            if self._stopping:
                raise RuntimeError("the SNAC decoder is shut down")
            self._calls.append((fn, future))
            self._wake.notify()
        return future

    @property
    def pending_windows(self) -> int:
        """Windows submitted and not yet taken into a call (for tests and metrics)."""
        with self._wake:
            return len(self._pending)

    def __enter__(self) -> DecodeScheduler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        idle_hook_due = False  # set by a decode, cleared once the hook has run
        while True:
            with self._wake:
                went_idle = False
                while not self._pending and not self._calls and not self._stopping:
                    if idle_hook_due and self.on_idle is not None:
                        if not self.clock.wait(self._wake, self.idle_after_s):
                            went_idle = not self._pending
                            break
                    else:
                        self.clock.wait(self._wake, None)
                if self._stopping:
                    jobs, self._pending = self._pending, []
                    for job in jobs:
                        job.future.cancel()
                    for _, future in self._calls:
                        future.cancel()
                    return
                calls, self._calls = self._calls, []
                if calls:
                    went_idle = False
                elif not went_idle:
                    # One call per turn, re-planned every turn: windows that arrived during the
                    # last call compete on urgency with those already waiting.
                    batch, *rest = plan_batches(self._pending, self.batch_frames)
                    self._pending = [job for later in rest for job in later]
            if calls:
                self._run_calls(calls)
                idle_hook_due = True
                continue
            if went_idle:
                idle_hook_due = False
                self._idle()
                continue
            self._decode([job for job in batch if job.future.set_running_or_notify_cancel()])
            idle_hook_due = True

    def _run_calls(self, calls: list[tuple[Callable[[], Any], Future[Any]]]) -> None:
        for fn, future in calls:
            if not future.set_running_or_notify_cancel():
                continue
            started = time.perf_counter()
            try:
                future.set_result(fn())
            except Exception as exc:  # the caller's to map: it knows what it asked for
                if isinstance(exc, (DeviceOutOfMemoryError, *OUT_OF_MEMORY_ERRORS)):
                    _release_cached_memory()
                future.set_exception(exc)
            finally:
                self.stats.busy_s += time.perf_counter() - started

    def _idle(self) -> None:
        if self.on_idle is None:
            return
        try:
            self.on_idle()
            self.idle_runs += 1
        except Exception:  # a failing hook must not stop the decoder
            logger.exception("the SNAC decoder's idle hook failed")

    def _decode(self, batch: list[DecodeJob]) -> None:
        if not batch:
            return
        started = time.perf_counter()
        try:
            samples = self.codec.decode_batch(
                np.stack([job.frames for job in batch]), batch[0].keep_start, batch[0].keep_end
            )
        except Exception as exc:
            self.stats.busy_s += time.perf_counter() - started
            self.stats.failures += 1
            error = domain_error(exc)
            if isinstance(error, DeviceOutOfMemoryError):
                _release_cached_memory()
            if len(batch) == 1:
                logger.error("SNAC decode failed", exc_info=exc)
                batch[0].future.set_exception(error)
                return
            # One by one, so a batch that ran out of memory, or one bad window, fails only itself.
            logger.warning("batched SNAC decode of %d windows failed (%s): retrying singly", len(batch), exc)
            for job in batch:
                self._decode([job])
            return
        elapsed = time.perf_counter() - started
        frames = sum(job.kept_frames for job in batch)
        self.stats.busy_s += elapsed
        self.stats.calls += 1
        self.stats.windows += len(batch)
        self.stats.frames += frames
        tally = self.stats.by_batch.setdefault(len(batch), BatchTally())
        tally.calls += 1
        tally.frames += frames
        tally.seconds += elapsed
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for job, row in zip(batch, samples):
            job.future.set_result(row)
