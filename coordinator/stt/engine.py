"""Whisper on faster-whisper (CTranslate2): a blocking ``Transcriber`` and the server's async,
slot-limited ``SpeechToText`` in front of it.

Why faster-whisper: it is what Open WebUI, speaches and wyoming-faster-whisper run, it runs int8
on a CPU and float16 on a GPU from one model directory, and its wheels need no compiler (the
measured comparison with whisper.cpp is in docs/speech-in.md).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from coordinator.clock import MONOTONIC, Clock, wait_first
from coordinator.errors import (
    CancelledError,
    DeviceOutOfMemoryError,
    GenerationError,
    InvalidInputError,
    QueueFullError,
    QueueTimeoutError,
)
from coordinator.stt.formats import Task
from coordinator.stt.transcript import SAMPLE_RATE, Segment, Transcript, Word

logger = logging.getLogger(__name__)

# Whisper's own schedule when a window decodes badly at temperature 0 (repetitive or unlikely
# text): try again hotter. OpenAI's API documents temperature 0 as exactly this.
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# The language of a model that knows only English.
ENGLISH = "en"
_OUT_OF_MEMORY_MARKERS = ("out of memory", "CUBLAS_STATUS_ALLOC_FAILED")
# Called on the worker thread with each segment as soon as it is decoded (streamed transcripts).
OnSegment = Callable[[Segment], None]
# Whisper reads at most the last 223 tokens of a prompt (half its 448-token context; OpenAI
# documents 224), about 900 characters of English. A longer prompt is text nobody reads, carried
# through the queue and tokenized whole on the slot: refused at twice that, which leaves any honest
# prompt whole. (What a prompt can still cost is the decoder's: at most the context's tokens per
# 30 s window, at each fallback temperature, as for any audio.)
MAX_PROMPT_CHARS = 2000


class AudioSource(Protocol):
    """Encoded audio, decoded on the slot that transcribes it; ``stop`` is set when the request
    is cancelled."""

    def __call__(self, *, stop: threading.Event) -> np.ndarray: ...


@dataclass(frozen=True)
class TranscriberConfig:
    device: str = "cpu"  # cpu | cuda | cuda:N (resolved, never "auto")
    compute_type: str = "int8"
    cpu_threads: int = 0  # 0: CTranslate2's default
    workers: int = 1  # transcriptions CTranslate2 may run at once
    beam_size: int = 1
    temperature_fallback: bool = True


def resolve_stt_device(name: str) -> str:
    """``auto`` → ``cuda`` when CTranslate2 sees a GPU, else ``cpu``; anything else as given."""
    if name != "auto":
        return name
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


class Transcriber:
    """One loaded Whisper. ``transcribe`` blocks; it may run on ``workers`` threads at once."""

    def __init__(self, model_dir: Path, config: TranscriberConfig, *, model_id: str) -> None:
        from faster_whisper import WhisperModel

        device, _, index = config.device.partition(":")
        self.config = config
        self.model_id = model_id
        self.device = config.device
        self._model = WhisperModel(
            str(model_dir),
            device=device,
            device_index=int(index or 0),
            compute_type=config.compute_type,
            cpu_threads=config.cpu_threads,
            num_workers=config.workers,
            local_files_only=True,
        )
        self.multilingual: bool = bool(self._model.model.is_multilingual)
        logger.info(
            "Whisper %s on %s (%s, %s)",
            model_dir.name,
            config.device,
            config.compute_type,
            "multilingual" if self.multilingual else "English only",
        )

    def check(self, *, language: str | None, task: Task, prompt: str | None = None) -> None:
        """Refuse what this model cannot do, or a request it would not read whole, before any
        work is queued."""
        if prompt is not None and len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidInputError(
                f"prompt is {len(prompt)} characters, over the {MAX_PROMPT_CHARS} this server takes: "
                "Whisper reads only its last 224 tokens (about 900 characters of English), so send "
                "those",
                param="prompt",
            )
        if self.multilingual:
            return
        if task == "translate":
            raise InvalidInputError(
                f"{self.model_id} knows only English and cannot translate: configure a multilingual "
                "Whisper (STT_MODEL=small)",
                param="model",
            )
        if language not in (None, ENGLISH):
            raise InvalidInputError(
                f"{self.model_id} knows only English, not {language!r}: leave language out or send 'en', "
                "or configure a multilingual Whisper (STT_MODEL=small)",
                param="language",
            )

    def _temperatures(self, temperature: float) -> float | tuple[float, ...]:
        if temperature == 0.0 and self.config.temperature_fallback:
            return FALLBACK_TEMPERATURES
        return temperature

    def transcribe(
        self,
        samples: np.ndarray,
        *,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float = 0.0,
        task: Task = "transcribe",
        cancelled: threading.Event | None = None,
        word_timestamps: bool = False,
        on_segment: OnSegment | None = None,
    ) -> Transcript:
        """Transcribe 16 kHz mono float32 ``samples``. ``language``: Whisper's code, or None to
        detect it. ``cancelled``: checked between segments; when set, raises CancelledError.
        ``word_timestamps``: align each word (costs a little per segment). ``on_segment``: called
        with each segment as it is decoded, before the next window starts."""
        self.check(language=language, task=task)
        if not self.multilingual:
            language = ENGLISH
        started = time.perf_counter()
        try:
            pieces, info = self._model.transcribe(
                samples,
                language=language,
                task=task,
                initial_prompt=prompt or None,
                temperature=self._temperatures(temperature),
                beam_size=self.config.beam_size,
                # Each 30 s window on its own: a hallucination in one window is not fed to the next.
                condition_on_previous_text=False,
                word_timestamps=word_timestamps,
            )
            segments = self._collect(pieces, cancelled, on_segment)
        except CancelledError:
            raise
        except RuntimeError as exc:
            text = str(exc)
            if any(marker in text for marker in _OUT_OF_MEMORY_MARKERS):
                raise DeviceOutOfMemoryError(
                    "the speech recogniser ran out of device memory: retry shortly, or lower STT_SLOTS"
                ) from None
            logger.exception("transcription failed")
            raise GenerationError("transcription failed: the server logged the details") from None
        duration = samples.size / SAMPLE_RATE
        text = "".join(segment.text for segment in segments).strip()
        logger.info(
            "transcribed %.1f s of audio in %.2f s (%s, %d segments)",
            duration,
            time.perf_counter() - started,
            info.language,
            len(segments),
        )
        return Transcript(
            text=text,
            language=info.language,
            duration=duration,
            segments=tuple(segments),
            prompt_tokens=self._prompt_tokens(prompt),
        )

    def _prompt_tokens(self, prompt: str | None) -> int:
        """The prompt's tokens as faster-whisper gives them to the model: the text after a
        space, of which Whisper reads at most the last half of its context."""
        if not prompt:
            return 0
        tokens = self._model.hf_tokenizer.encode(" " + prompt.strip(), add_special_tokens=False)
        return min(len(tokens.ids), self._model.max_length // 2 - 1)

    @staticmethod
    def _collect(
        pieces: Iterable, cancelled: threading.Event | None, on_segment: OnSegment | None = None
    ) -> list[Segment]:
        # faster-whisper decodes lazily, one 30 s window per step of this loop: the place where a
        # cancelled transcription stops and frees its slot.
        segments: list[Segment] = []
        for piece in pieces:
            if cancelled is not None and cancelled.is_set():
                raise CancelledError("the transcription was cancelled")
            segments.append(
                Segment(
                    id=len(segments),
                    start=float(piece.start),
                    end=float(piece.end),
                    text=piece.text,
                    tokens=tuple(piece.tokens),
                    temperature=float(piece.temperature or 0.0),
                    avg_logprob=float(piece.avg_logprob),
                    compression_ratio=float(piece.compression_ratio),
                    no_speech_prob=float(piece.no_speech_prob),
                    words=tuple(
                        Word(float(w.start), float(w.end), w.word, float(w.probability))
                        for w in piece.words or ()
                    ),
                )
            )
            if on_segment is not None:
                on_segment(segments[-1])
        return segments


class SpeechToText:
    """The server's door to a Transcriber: ``slots`` transcriptions run at once on their own
    threads; up to ``max_queue`` more wait, each at most ``queue_timeout_s`` (then 503); beyond
    that a request is refused at once (429), as on the speech and chat engines.

    The slots are counted under a thread lock, not an asyncio primitive: they are freed from the
    worker threads, and one recogniser serves every event loop that uses it (the server's, a
    Wyoming server's, tests')."""

    def __init__(
        self,
        transcriber: Transcriber,
        *,
        slots: int,
        max_queue: int,
        queue_timeout_s: float,
        clock: Clock = MONOTONIC,
    ) -> None:
        self.transcriber = transcriber
        self.clock = clock  # what the queue timeout is measured on
        self.slots = slots
        self._max_queue = max_queue
        self._queue_timeout_s = queue_timeout_s
        self._executor = concurrent.futures.ThreadPoolExecutor(slots, thread_name_prefix="stt")
        self._lock = threading.Lock()
        self._free = slots
        self._waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = (
            collections.deque()
        )
        self._running: set[threading.Event] = set()

    @property
    def model_id(self) -> str:
        return self.transcriber.model_id

    @property
    def busy(self) -> int:
        return self.slots - self._free

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def _acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return
            if len(self._waiters) >= self._max_queue:
                raise QueueFullError(
                    f"the speech recogniser is busy: {self.slots} transcription(s) running and "
                    f"{len(self._waiters)} waiting (STT_SLOTS, MAX_QUEUE): retry shortly"
                )
            granted: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, granted))
        try:
            # The wait never cancels ``granted``: a slot handed over as it timed out is passed on.
            if not await wait_first(self.clock, {granted}, self._queue_timeout_s):
                raise asyncio.TimeoutError
        except BaseException as exc:
            with self._lock:
                still_waiting = (loop, granted) in self._waiters
                if still_waiting:
                    self._waiters.remove((loop, granted))
            if not still_waiting:
                # The slot was handed over as the wait ended: pass it on.
                granted.add_done_callback(lambda _: self._release())
            if isinstance(exc, asyncio.TimeoutError):  # the builtin TimeoutError from 3.11 on
                raise QueueTimeoutError(
                    f"no transcription slot became free within {self._queue_timeout_s:g} s "
                    "(QUEUE_TIMEOUT_S): retry later"
                ) from None
            raise

    def _release(self) -> None:
        """Free a slot, or hand it to the longest waiter (from any thread)."""
        with self._lock:
            while self._waiters:
                loop, granted = self._waiters.popleft()
                if loop.is_closed():
                    continue
                loop.call_soon_threadsafe(_grant, granted)
                return
            self._free += 1

    async def transcribe(
        self,
        audio: np.ndarray | AudioSource,
        *,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float = 0.0,
        task: Task = "transcribe",
        word_timestamps: bool = False,
        on_segment: OnSegment | None = None,
    ) -> Transcript:
        """Transcribe on a slot: 16 kHz samples, or an ``AudioSource`` decoded on the slot first, so
        that a request waiting in the queue holds only its encoded bytes (30 minutes of audio is
        115 MB decoded, 0.5 MB as Opus). Cancelling the awaiting task stops the decode, or the
        transcription at its next segment; the slot is free again only once its thread has really
        stopped. ``on_segment`` runs on the worker thread (see Transcriber.transcribe)."""
        self.transcriber.check(language=language, task=task, prompt=prompt)
        await self._acquire()
        cancelled = threading.Event()
        work = partial(
            self._decode_and_transcribe,
            audio,
            language=language,
            prompt=prompt,
            temperature=temperature,
            task=task,
            cancelled=cancelled,
            word_timestamps=word_timestamps,
            on_segment=on_segment,
        )
        with self._lock:
            self._running.add(cancelled)
        try:
            future = self._executor.submit(work)
        except BaseException:
            self._finished(cancelled)
            raise
        future.add_done_callback(lambda _: self._finished(cancelled))
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def _decode_and_transcribe(
        self, audio: np.ndarray | AudioSource, *, cancelled: threading.Event, **options: Any
    ) -> Transcript:
        samples = audio if isinstance(audio, np.ndarray) else audio(stop=cancelled)
        return self.transcriber.transcribe(samples, cancelled=cancelled, **options)

    def _finished(self, cancelled: threading.Event) -> None:
        with self._lock:
            self._running.discard(cancelled)
        self._release()

    def abort(self) -> None:
        """Stop every transcription in flight at its next segment (shutdown past its grace)."""
        with self._lock:
            running = list(self._running)
        for event in running:
            event.set()

    def close(self) -> None:
        self.abort()
        self._executor.shutdown(wait=True, cancel_futures=True)


def _grant(granted: asyncio.Future[None]) -> None:
    # On the waiter's loop. A waiter that gave up meanwhile passes the slot on (see _acquire).
    if not granted.done():
        granted.set_result(None)
