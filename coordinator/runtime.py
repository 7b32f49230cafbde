"""Loading the models a command or the server needs, from settings and the catalog.

Every path is resolved (and a missing one reported with its download command) before anything
heavy loads, so a misconfiguration fails in milliseconds, not after a 4 GB load.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from coordinator.audio.decode_scheduler import CPU_BATCH_FRAMES, GPU_BATCH_FRAMES, DecodeScheduler
from coordinator.audio.snac_codec import SnacCodec, load_snac, resolve_device
from coordinator.audio.windows import window_shapes
from coordinator.config import ModelCatalog, Settings, load_catalog, resolve_model_path, stt_variant
from coordinator.engine.batch_engine import BatchEngine
from coordinator.engine.llama_model import LlamaModel
from coordinator.engine.sampling import SamplingParams
from coordinator.errors import ModelNotFoundError
from coordinator.memory import release_free_heap
from coordinator.orpheus.layout import FRAME_TOKENS
from coordinator.orpheus.vocab import OrpheusVocab
from coordinator.stt.engine import SpeechToText, Transcriber, TranscriberConfig, resolve_stt_device
from coordinator.stt.transcript import SAMPLE_RATE as STT_SAMPLE_RATE
from coordinator.textgen import ChatMessage, TextModel
from coordinator.tts import ORPHEUS_DEFAULT_SAMPLING, OrpheusTTS

logger = logging.getLogger(__name__)

# Warm-up: a few tokens on each engine and one decode per window shape pay the first-call costs
# (weights paged in, compute buffers and kernels set up, torch's first runs) before readiness,
# instead of in the first user's latency.
WARM_UP_TEXT = "Hello."
WARM_UP_SPEECH_TOKENS = 2 * FRAME_TOKENS
WARM_UP_CHAT_TOKENS = 4
WARM_UP_SEED = 0
WARM_UP_STT_SECONDS = 1.0
# Generous: a real model on a slow CPU takes seconds; a stuck warm-up must not hold readiness forever.
WARM_UP_TIMEOUT_S = 600.0


def load_codec(settings: Settings, catalog: ModelCatalog) -> SnacCodec:
    path, _ = resolve_model_path("snac", catalog, settings)
    return load_snac(path, resolve_device(settings.snac_device), compile_mode=settings.snac_compile)


def snac_batch_frames(settings: Settings, device: torch.device) -> int:
    if settings.snac_batch_frames is not None:
        return settings.snac_batch_frames
    return GPU_BATCH_FRAMES if device.type == "cuda" else CPU_BATCH_FRAMES


def available_cpus() -> int:
    """CPUs this process may run on (a container's CPU set, not the host's core count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _engine(model: LlamaModel, settings: Settings, name: str) -> BatchEngine:
    # llama.cpp's own default is a fixed 4 threads, whatever the machine: on a 2-core host that is
    # 4 spinning threads on 2 cores, fighting SNAC's threads for them.
    n_threads = settings.n_threads or available_cpus()
    logger.info("%s: %d llama.cpp threads", name, n_threads)
    return BatchEngine(
        model,
        n_ctx_per_seq=settings.n_ctx,
        max_sequences=settings.max_concurrent_streams,
        n_threads=n_threads,
        name=name,
        max_queue=settings.max_queue,
        queue_timeout_s=settings.queue_timeout_s,
    )


def load_tts(settings: Settings, catalog: ModelCatalog | None = None) -> OrpheusTTS:
    """Orpheus (GGUF, all layers on the GPU by default) + its batch engine + SNAC."""
    catalog = catalog or load_catalog(settings.catalog_path())
    orpheus_path, quant = resolve_model_path("orpheus", catalog, settings)
    snac_path, _ = resolve_model_path("snac", catalog, settings)
    device = resolve_device(settings.snac_device)
    model = LlamaModel.load(
        orpheus_path, n_gpu_layers=settings.n_gpu_layers, cpu_weight_repack=settings.cpu_weight_repack
    )
    try:
        vocab = OrpheusVocab.from_token_texts(model.token_texts())
        codec = load_snac(snac_path, device, compile_mode=settings.snac_compile)
        engine = _engine(model, settings, "orpheus")
    except BaseException:
        model.close()
        raise
    logger.info("Orpheus %s (%s) ready; SNAC on %s", orpheus_path.name, quant, device)
    return OrpheusTTS(
        engine,
        vocab,
        codec,
        voices=catalog.orpheus.voices,
        voice_aliases=catalog.orpheus.openai_voices,
        max_input_chars=settings.max_input_chars,
        max_utterances=settings.max_utterances,
        lookahead_frames=settings.snac_lookahead_frames,
        quant=quant,
        default_params=replace(ORPHEUS_DEFAULT_SAMPLING, max_tokens=settings.tts_max_tokens),
        length_cap=settings.tts_length_cap,
    )


def model_id(name: str) -> str:
    """API id of a catalog model: 'Gemma 2 2B Instruct' → 'gemma-2-2b-instruct'."""
    return "-".join(name.lower().split())


def load_llm(settings: Settings, catalog: ModelCatalog) -> TextModel:
    """The chat model (Gemma) on its own batch engine."""
    path, quant = resolve_model_path("llm", catalog, settings)
    model = LlamaModel.load(
        path, n_gpu_layers=settings.n_gpu_layers, cpu_weight_repack=settings.cpu_weight_repack
    )
    try:
        engine = _engine(model, settings, "llm")
    except BaseException:
        model.close()
        raise
    return TextModel(engine, model_id=model_id(catalog.llm.name), quant=quant, special_tokens_in_output=False)


def stt_model_id(catalog: ModelCatalog, settings: Settings) -> str:
    """API id of the speech recogniser: 'whisper-small', or 'whisper' for a local directory."""
    chosen = stt_variant(catalog, settings)
    if chosen is None or settings.stt_model_path is not None:
        return "whisper"
    return f"whisper-{chosen[0]}"


def load_stt(settings: Settings, catalog: ModelCatalog) -> SpeechToText:
    """Whisper on faster-whisper, with the server's slots and queue. Raises ModelNotFoundError
    (with the download command) when its files are missing."""
    path, _ = resolve_model_path("stt", catalog, settings)
    device = resolve_stt_device(settings.stt_device)
    default_types = catalog.stt.compute_type if catalog.stt else {}
    compute_type = settings.stt_compute_type or default_types.get(device.split(":")[0], "default")
    transcriber = Transcriber(
        path,
        TranscriberConfig(
            device=device,
            compute_type=compute_type,
            cpu_threads=settings.n_threads or available_cpus(),
            workers=settings.stt_slots,
            beam_size=settings.stt_beam_size,
            temperature_fallback=settings.stt_temperature_fallback,
        ),
        model_id=stt_model_id(catalog, settings),
    )
    return SpeechToText(
        transcriber,
        slots=settings.stt_slots,
        max_queue=settings.max_queue,
        queue_timeout_s=settings.queue_timeout_s,
    )


@dataclass
class Runtime:
    """Everything the server serves with: loaded once in the lifespan, reached through accessors."""

    settings: Settings
    catalog: ModelCatalog
    tts: OrpheusTTS
    llm: TextModel
    # Speech in (Whisper); None when its model is not installed: the server then serves speech
    # out only, and the routes that need it answer 503 with ``stt_missing`` (the download command).
    stt: SpeechToText | None = None
    stt_missing: str | None = None
    # Every stream's SNAC windows, decoded on one thread in batched calls (decode_scheduler.py).
    snac: DecodeScheduler = field(init=False)

    # Raw Orpheus completions (<custom_token_N> text) on the speech engine, for front ends built
    # for an Orpheus llama.cpp backend.
    orpheus_text: TextModel = field(init=False)

    def __post_init__(self) -> None:
        self.snac = DecodeScheduler(
            self.tts.codec,
            batch_frames=snac_batch_frames(self.settings, resolve_device(self.settings.snac_device)),
            # Between requests, hand the heap's free pages back: glibc otherwise keeps what the
            # decodes and encoders freed, and the resident size creeps up request after request.
            on_idle=release_free_heap,
        )
        self.orpheus_text = TextModel(
            self.tts.engine,
            model_id=model_id(self.catalog.orpheus.name),
            quant=self.tts.quant,
            special_tokens_in_output=True,
        )

    def warm_up(self) -> None:
        """One short generation on each engine and one SNAC decode of every window shape the
        server uses, through the same scheduler the server decodes with."""
        started = time.perf_counter()
        speech = self.tts.request(
            WARM_UP_TEXT,
            self.tts.voices[0],
            replace(self.tts.default_params, max_tokens=WARM_UP_SPEECH_TOKENS, seed=WARM_UP_SEED),
        )
        chat = self.llm.chat_request(
            [ChatMessage("user", WARM_UP_TEXT)],
            SamplingParams(max_tokens=WARM_UP_CHAT_TOKENS, seed=WARM_UP_SEED),
        )
        for engine, request in ((self.tts.engine, speech), (self.llm.engine, chat)):
            stream = engine.submit(request)
            while not stream.next_batch(timeout=WARM_UP_TIMEOUT_S).finished:
                pass
        shapes = window_shapes(lookahead=self.tts.lookahead_frames)
        decodes = [
            self.snac.submit(np.zeros((frames, FRAME_TOKENS), dtype=np.int64), keep_start, keep_end)
            for frames, keep_start, keep_end in shapes
        ]
        for decode in decodes:
            decode.result(timeout=WARM_UP_TIMEOUT_S)
        if self.stt is not None:
            silence = np.zeros(int(WARM_UP_STT_SECONDS * STT_SAMPLE_RATE), dtype=np.float32)
            self.stt.transcriber.transcribe(silence, language="en")
        logger.info(
            "warmed up in %.1f s (both engines, %d SNAC window shapes)",
            time.perf_counter() - started,
            len(shapes),
        )

    def abort(self) -> None:
        """End every request in flight now (shutdown past its grace period); the engines stay up
        until ``close``."""
        self.tts.engine.abort()  # also serves orpheus_text
        self.llm.engine.abort()
        if self.stt is not None:
            self.stt.abort()

    def close(self) -> None:
        if self.stt is not None:
            self.stt.close()
        self.snac.close()
        self.tts.close()
        self.llm.close()


def load_runtime(settings: Settings) -> Runtime:
    catalog = load_catalog(settings.catalog_path())
    resolve_model_path("llm", catalog, settings)  # fail on a missing file before the heavy loads
    tts = load_tts(settings, catalog)
    try:
        llm = load_llm(settings, catalog)
    except BaseException:
        tts.close()
        raise
    stt, stt_missing = None, None
    try:
        stt = load_stt(settings, catalog)
    except ModelNotFoundError as exc:
        # Speech in is optional: a server upgraded without the Whisper download keeps speaking.
        stt_missing = exc.message
        logger.warning("speech in disabled: %s", exc.message)
    except BaseException:
        tts.close()
        llm.close()
        raise
    return Runtime(settings=settings, catalog=catalog, tts=tts, llm=llm, stt=stt, stt_missing=stt_missing)
