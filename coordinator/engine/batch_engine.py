"""Continuous batching on llama.cpp: one worker thread, one context, many sequences per step.

llama.cpp contexts are not thread-safe, so exactly one thread (the worker) touches the context.
Each step it puts the last token of every decoding sequence and a budget of prompt tokens of the
sequences still prefilling into one ``llama_batch``, decodes once, and samples every sequence
that has logits. Requests join at the next step and leave (freeing their KV cells) the step they
finish or are cancelled, so concurrent requests share the hardware instead of queueing.

Prefix cache: a request may ask its slot to keep the KV cells of its first ``keep_prefix`` prompt
tokens when it ends (a cloned voice's reference recordings, the same for every request of that
voice). Admission then prefers the free slot whose kept tokens share the longest prefix with the
new prompt and prefills only the rest (``prefix_cache``).

Why one module of about 500 lines: it is one class that owns one context and the only thread
allowed to touch it. Its public side (submit, validate, abort, jobs for the worker) and its worker
side (admit, step, sample, finish) share the slots, the queue and the lock, and reading them
together is how the one-thread rule is checked. What does not share that state lives apart: the
llama_batch's ctypes (``llama_batch``), the counters (``stats``), the sampler (``sampling``) and the
streams (``stream``).
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import llama_cpp
import numpy as np

from coordinator.clock import MONOTONIC, Clock
from coordinator.engine.llama_batch import TokenBatch
from coordinator.engine.llama_model import LlamaModel
from coordinator.engine.prefix_cache import best_slot, shared_prefix
from coordinator.engine.sampling import SamplingParams, TokenSampler, sample_batch
from coordinator.engine.stats import EngineStats, StepTally
from coordinator.engine.stream import FinishReason, GenerationStream, StreamEvent
from coordinator.errors import (
    CancelledError,
    ContextLengthExceededError,
    GenerationError,
    InvalidInputError,
    ModelLoadError,
    QueueFullError,
    QueueTimeoutError,
)

logger = logging.getLogger(__name__)

DEFAULT_N_BATCH = 512  # tokens per llama_decode call: decode tokens first, prompt chunks fill the rest
DEFAULT_MAX_QUEUE = 32
DEFAULT_QUEUE_TIMEOUT_S = 30.0
_ALL_POSITIONS = -1
_T = TypeVar("_T")


class TokenConstraint(Protocol):
    """Restricts which tokens a sequence may sample next (e.g. Orpheus' frame layout)."""

    def allowed(self) -> np.ndarray: ...

    def accept(self, token_id: int) -> None: ...


@dataclass(frozen=True)
class GenerationRequest:
    prompt: list[int]
    params: SamplingParams
    constraint: TokenConstraint | None = None
    # Tokens that end the sequence; they are not emitted.
    stop_ids: frozenset[int] = frozenset()
    # Leading prompt tokens whose KV cells the slot keeps after this request ends, for a later
    # request that starts with the same tokens (0: free every cell, as before the prefix cache).
    keep_prefix: int = 0


@dataclass(eq=False)
class _Sequence:
    request: GenerationRequest
    stream: GenerationStream
    sampler: TokenSampler
    number: int  # admission order, for fair prefill
    continuation: bool = False
    submitted_at: float = 0.0  # on the engine's clock
    slot: int = -1
    n_past: int = 0  # tokens in this sequence's KV cells
    prefilled: int = 0  # prompt tokens already decoded
    last_token: int = -1
    generated: int = 0

    @property
    def decoding(self) -> bool:
        return self.prefilled == len(self.request.prompt)


class BatchEngine:
    """Owns one llama.cpp context and the worker thread that drives it."""

    def __init__(
        self,
        model: LlamaModel,
        *,
        n_ctx_per_seq: int,
        max_sequences: int,
        n_threads: int | None = None,
        n_batch: int = DEFAULT_N_BATCH,
        name: str = "engine",
        max_queue: int = DEFAULT_MAX_QUEUE,
        queue_timeout_s: float = DEFAULT_QUEUE_TIMEOUT_S,
        clock: Clock = MONOTONIC,
    ) -> None:
        self.model = model
        self.name = name
        self.max_sequences = max_sequences
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self.clock = clock  # when a waiting request times out; step timings stay real seconds
        self._n_batch = n_batch
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx_per_seq * max_sequences
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = max_sequences
        # Each sequence gets its own n_ctx_per_seq cells: attention then only spans a sequence's
        # own cells, and one long request cannot starve the others of cache.
        params.kv_unified = False
        params.no_perf = True
        if n_threads is not None:
            params.n_threads = n_threads
            params.n_threads_batch = n_threads
        self._ctx = llama_cpp.llama_init_from_model(model.handle, params)
        if not self._ctx:
            raise ModelLoadError(
                f"llama.cpp could not create a context of {params.n_ctx} tokens for {model.path.name}: "
                "lower N_CTX or MAX_CONCURRENT_STREAMS (not enough memory)"
            )
        self.n_ctx_per_seq = int(llama_cpp.llama_n_ctx_seq(self._ctx))
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = TokenBatch(n_batch)

        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._waiting: deque[_Sequence] = deque()
        self._jobs: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._active: list[_Sequence] = []
        self._free_slots = list(range(max_sequences - 1, -1, -1))
        # Free slots still holding KV cells: the prompt tokens those cells are, from position 0.
        self._kept: dict[int, np.ndarray] = {}
        self._numbers = itertools.count()
        self._stopping = False
        self.stats = EngineStats()
        self._thread = threading.Thread(target=self._run, name=f"{name}-worker", daemon=True)
        self._thread.start()
        logger.info(
            "%s: context %d tokens per sequence x %d sequences, batch %d",
            name,
            self.n_ctx_per_seq,
            max_sequences,
            n_batch,
        )

    # -- public, any thread --------------------------------------------------------------------
    def submit(
        self,
        request: GenerationRequest,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        continuation: bool = False,
    ) -> GenerationStream:
        """Queue a request; tokens arrive on the returned stream (async if ``loop`` is given).

        A ``continuation`` belongs to a request already admitted and answering (the next sentence
        of a reply being spoken): it is never refused for a full queue, since its response has
        begun and a refusal would cut the audio, and it waits ahead of new requests so a voice
        already speaking goes on before a new one starts.
        """
        self.validate(request)
        prompt = request.prompt
        stream = GenerationStream(len(prompt), self._wake.set, loop)
        sequence = _Sequence(
            request=request,
            stream=stream,
            sampler=TokenSampler(request.params, self.model.n_vocab, prompt),
            number=next(self._numbers),
            continuation=continuation,
            submitted_at=self.clock.now(),
        )
        with self._lock:
            if self._stopping:
                raise GenerationError(f"{self.name} is shut down")
            # Requests beyond the free slots wait; beyond max_queue waiting ones, refuse at once.
            # Cancelled sequences count as gone: they leave within one step.
            waiting = sum(1 for s in self._waiting if not s.stream.cancel_requested)
            releasing = sum(1 for s in list(self._active) if s.stream.cancel_requested)
            if continuation:
                self._waiting.insert(sum(1 for s in self._waiting if s.continuation), sequence)
            elif waiting >= len(self._free_slots) + releasing + self.max_queue:
                raise QueueFullError(
                    f"{self.name} is at capacity ({self.max_sequences} active, {waiting} waiting): "
                    "retry shortly"
                )
            else:
                self._waiting.append(sequence)
        self._wake.set()
        return stream

    def validate(self, request: GenerationRequest) -> None:
        """Raise the error ``submit`` would raise, without submitting (to fail before streaming)."""
        prompt, max_tokens = request.prompt, request.params.max_tokens
        if not prompt:
            raise InvalidInputError("the prompt is empty", param="prompt")
        if len(prompt) + max_tokens > self.n_ctx_per_seq:
            raise ContextLengthExceededError(
                f"the prompt ({len(prompt)} tokens) plus max_tokens ({max_tokens}) exceeds the "
                f"context of {self.n_ctx_per_seq} tokens: shorten the input, lower max_tokens, "
                "or raise N_CTX",
                param="max_tokens",
            )
        if not 0 <= request.keep_prefix <= len(prompt):
            raise InvalidInputError(
                f"keep_prefix={request.keep_prefix} is outside the prompt's 0..{len(prompt)} tokens",
                param="keep_prefix",
            )
        bad = [t for t in prompt if not 0 <= t < self.model.n_vocab]
        if bad:
            raise InvalidInputError(f"prompt token {bad[0]} is not in the vocabulary", param="prompt")

    def call_in_worker(self, fn: Callable[[], _T]) -> Future[_T]:
        """Run ``fn`` on the worker thread between steps (where touching the context is safe)."""
        future: Future[_T] = Future()
        with self._lock:
            self._jobs.append((fn, future))
        self._wake.set()
        return future

    def kv_cells_in_use(self) -> dict[int, int]:
        """Positions held in the KV cache per slot (only slots holding any); for tests and metrics."""

        def read() -> dict[int, int]:
            usage = {}
            for slot in range(self.max_sequences):
                top = llama_cpp.llama_memory_seq_pos_max(self._memory, slot)
                if top >= 0:
                    usage[slot] = top + 1
            return usage

        return self.call_in_worker(read).result()

    def abort(self, message: str = "the server is shutting down") -> Future[int]:
        """End every sequence, waiting or generating, at the next step with a CancelledError
        (a stream sends it as its last event); the engine itself keeps serving. Resolves to the
        number of sequences ended."""
        error = CancelledError(f"{message}: the request was cut before it finished")

        def end_all() -> int:
            active = list(self._active)
            for sequence in active:
                self._finish(sequence, "error", error)
            with self._lock:
                waiting = list(self._waiting)
                self._waiting.clear()
            for sequence in waiting:
                sequence.stream._push(StreamEvent(error=error))
            if active or waiting:
                logger.warning("%s: aborted %d sequence(s)", self.name, len(active) + len(waiting))
            return len(active) + len(waiting)

        return self.call_in_worker(end_all)

    def close(self) -> None:
        with self._lock:
            self._stopping = True
        self._wake.set()
        self._thread.join()
        if self._ctx:
            self._batch.free()
            llama_cpp.llama_free(self._ctx)
            self._ctx = None

    # -- worker thread -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                self._admit()
                self._reap_cancelled()
                # Jobs run after the reap, so a job queued after a cancel sees its cells freed.
                self._run_jobs()
                if self._stopping:
                    break
                if not self._active:
                    self._wake.wait()
                    self._wake.clear()
                    continue
                try:
                    self._step()
                except Exception as exc:  # never let the worker die silently: fail the sequences
                    logger.exception("%s: step failed", self.name)
                    error = (
                        exc
                        if isinstance(exc, GenerationError)
                        else GenerationError(f"{self.name} failed while generating: {exc}")
                    )
                    for sequence in list(self._active):
                        self._finish(sequence, "error", error)
        finally:
            self._run_jobs()
            with self._lock:
                leftovers = list(self._waiting) + self._active
                self._waiting.clear()
            for sequence in leftovers:
                sequence.stream._push(StreamEvent(error=CancelledError(f"{self.name} is shutting down")))

    def _run_jobs(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    return
                fn, future = self._jobs.popleft()
            try:
                future.set_result(fn())
            except Exception as exc:
                future.set_exception(exc)

    def _admit(self) -> None:
        admitted: list[_Sequence] = []
        with self._lock:
            while self._waiting and self._free_slots:
                sequence = self._waiting.popleft()
                if sequence.stream.cancel_requested:
                    sequence.stream._push(StreamEvent(finish_reason="cancelled"))
                    continue
                index = best_slot(self._free_slots, self._kept, sequence.request.prompt)
                sequence.slot = self._free_slots.pop(index)
                self._active.append(sequence)
                admitted.append(sequence)
            now = self.clock.now()
            expired = [s for s in self._waiting if now - s.submitted_at > self.queue_timeout_s]
            for sequence in expired:
                self._waiting.remove(sequence)
            self.stats.active_sequences = len(self._active)
            self.stats.waiting_sequences = len(self._waiting)
        for sequence in admitted:
            self._reuse_prefix(sequence)
        for sequence in expired:
            sequence.stream._push(
                StreamEvent(
                    error=QueueTimeoutError(
                        f"waited over {self.queue_timeout_s:g} s for a free {self.name} slot: retry later"
                    )
                )
            )

    def _reuse_prefix(self, sequence: _Sequence) -> None:
        """Start a newly admitted sequence after the cells its slot kept that match its prompt,
        dropping the rest. The last prompt token is always decoded again, so it has logits."""
        kept = self._kept.pop(sequence.slot, None)
        if kept is None:
            return
        prompt = sequence.request.prompt
        reuse = min(shared_prefix(kept, prompt), len(prompt) - 1)
        if not llama_cpp.llama_memory_seq_rm(self._memory, sequence.slot, reuse, _ALL_POSITIONS):
            # A cache that cannot drop part of a sequence: start the slot clean instead.
            llama_cpp.llama_memory_seq_rm(self._memory, sequence.slot, _ALL_POSITIONS, _ALL_POSITIONS)
            reuse = 0
        sequence.n_past = sequence.prefilled = reuse
        self.stats.prompt_tokens_reused += reuse

    def _reap_cancelled(self) -> None:
        for sequence in [s for s in self._active if s.stream.cancel_requested]:
            self._finish(sequence, "cancelled")
        with self._lock:
            cancelled = [s for s in self._waiting if s.stream.cancel_requested]
            for sequence in cancelled:
                self._waiting.remove(sequence)
        for sequence in cancelled:
            sequence.stream._push(StreamEvent(finish_reason="cancelled"))

    def _finish(self, sequence: _Sequence, reason: FinishReason, error: BaseException | None = None) -> None:
        # Free the KV cells at once, so the slot is clean for the next request; keep the asked
        # prefix only where its cells were surely decoded: `prefilled` counts the chunks of steps
        # that completed, and an error (a failed llama_decode among them) keeps nothing.
        keep = 0 if reason == "error" else min(sequence.request.keep_prefix, sequence.prefilled)
        if keep > 0 and llama_cpp.llama_memory_seq_rm(self._memory, sequence.slot, keep, _ALL_POSITIONS):
            self._kept[sequence.slot] = np.asarray(sequence.request.prompt[:keep], dtype=np.int64)
        else:
            llama_cpp.llama_memory_seq_rm(self._memory, sequence.slot, _ALL_POSITIONS, _ALL_POSITIONS)
            self._kept.pop(sequence.slot, None)
        self._active.remove(sequence)
        with self._lock:
            self._free_slots.append(sequence.slot)
        self.stats.finish_reasons[reason] = self.stats.finish_reasons.get(reason, 0) + 1
        sequence.stream._push(StreamEvent(finish_reason=reason, error=error))

    def _step(self) -> None:
        started = time.perf_counter()
        # The sequences that get logits this step, in batch order (llama.cpp's order of logit rows).
        outputs: list[_Sequence] = []
        n = 0
        for sequence in self._active:
            if sequence.decoding:
                self._batch.put(n, sequence.last_token, sequence.n_past, sequence.slot, logits=True)
                sequence.n_past += 1
                outputs.append(sequence)
                n += 1
        # Prompts fill what is left of the batch, oldest request first, in chunks: a long prompt
        # never holds up the sequences that are already speaking.
        for sequence in sorted((s for s in self._active if not s.decoding), key=lambda s: s.number):
            budget = self._n_batch - n
            if budget == 0:
                break
            prompt = sequence.request.prompt
            chunk = prompt[sequence.prefilled : sequence.prefilled + budget]
            for token in chunk:
                self._batch.put(n, token, sequence.n_past, sequence.slot, logits=False)
                sequence.n_past += 1
                n += 1
            sequence.prefilled += len(chunk)
            self.stats.prompt_tokens += len(chunk)
            if sequence.decoding:
                self._batch.want_logits(n - 1)
                outputs.append(sequence)
        decode_started = time.perf_counter()
        status = self._batch.decode(self._ctx, n)
        if status != 0:
            raise GenerationError(f"{self.name}: llama_decode returned {status}")
        sample_started = time.perf_counter()
        self.stats.steps += 1
        if outputs:
            self._sample(outputs)
        ended = time.perf_counter()
        tally = self.stats.by_batch.setdefault(len(outputs), StepTally())
        tally.steps += 1
        tally.step_s += ended - started
        tally.decode_s += sample_started - decode_started
        tally.sample_s += ended - sample_started

    def _sample(self, outputs: list[_Sequence]) -> None:
        """Sample every sequence that got logits this step, in one call (sampling.py says why)."""
        # llama.cpp keeps the logits of the batch's outputs as rows in batch order.
        pointer = llama_cpp.llama_get_logits(self._ctx)
        logits = np.ctypeslib.as_array(
            ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(len(outputs), self.model.n_vocab)
        )
        rows, allowed = [], []
        for row, sequence in enumerate(outputs):
            if sequence.stream.cancel_requested:
                continue
            constraint = sequence.request.constraint
            try:
                allowed.append(None if constraint is None else constraint.allowed())
            except Exception as exc:
                self._fail_one(sequence, exc)
                continue
            rows.append(row)
        sequences = [outputs[row] for row in rows]
        samplers = [s.sampler for s in sequences]
        try:
            drawn = sample_batch(samplers, logits[rows], allowed)
        except Exception:
            # A bug, not a bad request: sample each alone, so that only the sequence that
            # triggers it fails.
            logger.exception("%s: batched sampling failed; sampling one sequence at a time", self.name)
            drawn = []
            for sampler, row, candidates in zip(samplers, rows, allowed):
                try:
                    drawn.extend(sample_batch([sampler], logits[[row]], [candidates]))
                except Exception as exc:
                    drawn.append(GenerationError(f"sampling failed: {exc}"))
        for sequence, token in zip(sequences, drawn):
            try:
                if isinstance(token, GenerationError):
                    raise token
                self._emit(sequence, token)
            except Exception as exc:
                self._fail_one(sequence, exc)

    def _fail_one(self, sequence: _Sequence, exc: Exception) -> None:
        """One request's bad state must not fail the others."""
        logger.error("%s: sampling failed for one sequence: %s", self.name, exc)
        error = exc if isinstance(exc, GenerationError) else GenerationError(f"sampling failed: {exc}")
        self._finish(sequence, "error", error)

    def _emit(self, sequence: _Sequence, token: int) -> None:
        request = sequence.request
        self.stats.tokens_sampled += 1
        if request.constraint is not None:
            request.constraint.accept(token)
        if token in request.stop_ids:
            self._finish(sequence, "stop")
            return
        sequence.generated += 1
        sequence.last_token = token
        sequence.stream._push(StreamEvent(tokens=(token,)))
        if sequence.generated >= request.params.max_tokens:
            self._finish(sequence, "length")
