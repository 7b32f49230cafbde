"""Loading the models a command or the server needs, from settings and the catalog.

Every path is resolved (and a missing one reported with its download command) before anything
heavy loads, so a misconfiguration fails in milliseconds, not after a 4 GB load.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace

import torch

from coordinator.audio.decode_scheduler import CPU_BATCH_FRAMES, GPU_BATCH_FRAMES, DecodeScheduler
from coordinator.audio.snac_codec import SnacCodec, load_snac, resolve_device
from coordinator.config import ModelCatalog, Settings, load_catalog, resolve_model_path
from coordinator.engine.batch_engine import BatchEngine
from coordinator.engine.llama_model import LlamaModel
from coordinator.orpheus.vocab import OrpheusVocab
from coordinator.textgen import TextModel
from coordinator.tts import ORPHEUS_DEFAULT_SAMPLING, OrpheusTTS

logger = logging.getLogger(__name__)


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
    model = LlamaModel.load(orpheus_path, n_gpu_layers=settings.n_gpu_layers)
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
        max_input_chars=settings.max_input_chars,
        max_utterances=settings.max_utterances,
        lookahead_frames=settings.snac_lookahead_frames,
        quant=quant,
        default_params=replace(ORPHEUS_DEFAULT_SAMPLING, max_tokens=settings.tts_max_tokens),
    )


def model_id(name: str) -> str:
    """API id of a catalog model: 'Gemma 2 2B Instruct' → 'gemma-2-2b-instruct'."""
    return "-".join(name.lower().split())


def load_llm(settings: Settings, catalog: ModelCatalog) -> TextModel:
    """The chat model (Gemma) on its own batch engine."""
    path, quant = resolve_model_path("llm", catalog, settings)
    model = LlamaModel.load(path, n_gpu_layers=settings.n_gpu_layers)
    try:
        engine = _engine(model, settings, "llm")
    except BaseException:
        model.close()
        raise
    return TextModel(engine, model_id=model_id(catalog.llm.name), quant=quant, special_tokens_in_output=False)


@dataclass
class Runtime:
    """Everything the server serves with: loaded once in the lifespan, reached through accessors."""

    settings: Settings
    catalog: ModelCatalog
    tts: OrpheusTTS
    llm: TextModel
    # Every stream's SNAC windows, decoded on one thread in batched calls (decode_scheduler.py).
    snac: DecodeScheduler = field(init=False)

    # Raw Orpheus completions (<custom_token_N> text) on the speech engine, for front ends built
    # for an Orpheus llama.cpp backend.
    orpheus_text: TextModel = field(init=False)

    def __post_init__(self) -> None:
        self.snac = DecodeScheduler(
            self.tts.codec,
            batch_frames=snac_batch_frames(self.settings, resolve_device(self.settings.snac_device)),
        )
        self.orpheus_text = TextModel(
            self.tts.engine,
            model_id=model_id(self.catalog.orpheus.name),
            quant=self.tts.quant,
            special_tokens_in_output=True,
        )

    def close(self) -> None:
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
    return Runtime(settings=settings, catalog=catalog, tts=tts, llm=llm)
