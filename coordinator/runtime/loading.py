"""Loading the models a command or the server needs, from settings and the catalog.

Every path is resolved (and a missing one reported with its download command) before anything
heavy loads, so a misconfiguration fails in milliseconds, not after a 4 GB load.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from coordinator.audio.decode_scheduler import CPU_BATCH_FRAMES, GPU_BATCH_FRAMES, DecodeScheduler
from coordinator.audio.snac_codec import SnacCodec, load_snac, resolve_device
from coordinator.audio.windows import window_shapes
from coordinator.config.catalog import DEFAULT_ORPHEUS_MODEL, ModelCatalog, load_catalog, model_id
from coordinator.config.selection import (
    OrpheusChoice,
    default_orpheus,
    resolve_model_path,
    select_orpheus,
    stt_variant,
)
from coordinator.config.settings import Settings
from coordinator.engine.batch_engine import BatchEngine, GenerationRequest
from coordinator.engine.llama_model import LlamaModel
from coordinator.engine.sampling import SamplingParams
from coordinator.errors import ConfigError, ModelNotFoundError
from coordinator.llm.chat import ChatMessage, TextModel
from coordinator.normalize.api import warm_up as normalize_warm_up
from coordinator.orpheus.layout import FRAME_TOKENS
from coordinator.orpheus.vocab import OrpheusVocab
from coordinator.runtime.memory import release_free_heap
from coordinator.runtime.memory_plan import check_memory_plan, context_per_sequence
from coordinator.stt.engine import SpeechToText, Transcriber, TranscriberConfig, resolve_stt_device
from coordinator.stt.isolated import warm as warm_decoder
from coordinator.stt.transcript import SAMPLE_RATE as STT_SAMPLE_RATE
from coordinator.tts.registry import ResolvedVoice, SpeechModel, SpeechModels, speech_model
from coordinator.tts.synthesis import ORPHEUS_DEFAULT_SAMPLING, OrpheusTTS
from coordinator.voices.store import VoiceStore

logger = logging.getLogger(__name__)

# Warm-up: a few tokens on each engine and one decode per window shape pay the first-call costs
# (weights paged in, compute buffers and kernels set up, torch's first runs) before readiness,
# instead of in the first user's latency.
WARM_UP_TEXT = "Hello."
WARM_UP_SPEECH_TOKENS = 2 * FRAME_TOKENS
WARM_UP_CHAT_TOKENS = 4
WARM_UP_SEED = 0
# Generous: a real model on a slow CPU takes seconds; a stuck warm-up must not hold readiness forever.
WARM_UP_TIMEOUT_S = 600.0
WARM_UP_STT_SECONDS = 1.0


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


def _engine(model: LlamaModel, settings: Settings, name: str, *, n_ctx: int | None = None) -> BatchEngine:
    # llama.cpp's own default is a fixed 4 threads, whatever the machine: on a 2-core host that is
    # 4 spinning threads on 2 cores, fighting SNAC's threads for them.
    n_threads = settings.n_threads or available_cpus()
    logger.info("%s: %d llama.cpp threads", name, n_threads)
    return BatchEngine(
        model,
        n_ctx_per_seq=n_ctx or settings.n_ctx,
        max_sequences=settings.max_concurrent_streams,
        n_threads=n_threads,
        name=name,
        max_queue=settings.max_queue,
        queue_timeout_s=settings.queue_timeout_s,
    )


def load_orpheus(choice: OrpheusChoice, settings: Settings, codec: SnacCodec) -> OrpheusTTS:
    """One Orpheus model (GGUF, all layers on the GPU by default) on its own batch engine,
    speaking through ``codec`` (shared by every Orpheus model)."""
    path = choice.require_file()
    model = LlamaModel.load(
        path, n_gpu_layers=settings.n_gpu_layers, cpu_weight_repack=settings.cpu_weight_repack
    )
    try:
        vocab = OrpheusVocab.from_token_texts(model.token_texts())
        # A cloning model's sequences hold a custom voice's reference prefix before the text.
        n_ctx = context_per_sequence(settings, clones=choice.spec.clones)
        engine = _engine(model, settings, f"orpheus-{choice.key}", n_ctx=n_ctx)
    except BaseException:
        model.close()
        raise
    logger.info(
        "Orpheus %s: %s (%s) ready, languages %s", choice.key, path.name, choice.quant, choice.spec.languages
    )
    return OrpheusTTS(
        engine,
        vocab,
        codec,
        voices=choice.spec.voices,
        voice_aliases=choice.spec.openai_voices,
        max_utterances=settings.max_utterances,
        lookahead_frames=settings.snac_lookahead_frames,
        quant=choice.quant,
        default_params=replace(ORPHEUS_DEFAULT_SAMPLING, max_tokens=settings.tts_max_tokens),
        language=choice.spec.languages[0],
        voice_languages=choice.spec.voice_languages,
        length_cap=settings.tts_length_cap,
        clones=choice.spec.clones,
    )


def choice_for_voice(choices: list[OrpheusChoice], voice: str | None) -> tuple[OrpheusChoice, str | None]:
    """Which selected model speaks ``voice`` (``key/voice``, else the first model with that voice,
    regardless of case), and the voice as that model spells it; the default model otherwise (its
    own check then names the valid voices). For the CLI, which loads only the model it needs."""
    default = default_orpheus(choices)
    if not voice:
        return default, voice
    prefix, sep, rest = voice.rpartition("/")
    for choice in [c for c in choices if prefix in (c.key, c.model_id)] if sep else [default, *choices]:
        name = rest if sep else voice
        spelled = next((v for v in choice.spec.voices if v.casefold() == name.casefold()), None)
        if spelled is not None:
            return choice, spelled
    return default, voice


def load_tts(
    settings: Settings, catalog: ModelCatalog | None = None, *, voice: str | None = None
) -> OrpheusTTS:
    """One Orpheus model + its batch engine + SNAC (the CLI's speech pipeline): the one of
    ORPHEUS_MODELS that speaks ``voice``, else the default model."""
    catalog = catalog or load_catalog(settings.catalog_path())
    choice, _ = choice_for_voice(select_orpheus(catalog, settings), voice)
    choice.require_file()
    snac_path, _ = resolve_model_path("snac", catalog, settings)
    device = resolve_device(settings.snac_device)
    codec = load_snac(snac_path, device, compile_mode=settings.snac_compile)
    logger.info("SNAC on %s", device)
    return load_orpheus(choice, settings, codec)


def load_speech_models(settings: Settings, catalog: ModelCatalog, codec: SnacCodec) -> SpeechModels:
    """Every Orpheus model ORPHEUS_MODELS selects, each on its own engine, all on ``codec``."""
    loaded: list[SpeechModel] = []
    try:
        for choice in select_orpheus(catalog, settings):
            loaded.append(speech_model(choice.key, choice.spec, load_orpheus(choice, settings, codec)))
    except BaseException:
        for model in loaded:
            model.close()
        raise
    return SpeechModels(loaded, catalog_models=catalog.orpheus_models())


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


def installed_stt(catalog: ModelCatalog, settings: Settings) -> Path | None:
    """Whisper's directory when it is installed (speech in is optional), for the memory plan."""
    try:
        return resolve_model_path("stt", catalog, settings)[0]
    except (ModelNotFoundError, ConfigError):
        return None


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
            # The transcription slots and the slots that listen to generated speech (Runtime.listening).
            workers=settings.stt_slots + settings.listen_slots,
            beam_size=settings.stt_beam_size,
            temperature_fallback=settings.stt_temperature_fallback,
        ),
        model_id=stt_model_id(catalog, settings),
    )
    # Uploads are decoded in children of a fork server (stt/isolated.py): started here, not by
    # the first upload.
    warm_decoder()
    return SpeechToText(
        transcriber,
        slots=settings.stt_slots,
        max_queue=settings.max_queue,
        queue_timeout_s=settings.queue_timeout_s,
    )


class Runtime:
    """Everything the server serves with: loaded once in the lifespan, reached through accessors.

    ``speech`` holds every loaded Orpheus model (SpeechModels.resolve picks one for a voice);
    ``tts`` is the default (English) one's speech pipeline, for code that speaks one language.
    """

    def __init__(
        self,
        settings: Settings,
        catalog: ModelCatalog,
        tts: OrpheusTTS | None = None,
        llm: TextModel | None = None,
        *,
        speech: SpeechModels | None = None,
        stt: SpeechToText | None = None,
        stt_missing: str | None = None,
        voices: VoiceStore | None = None,
    ) -> None:
        if llm is None or (tts is None) == (speech is None):
            raise TypeError("Runtime needs llm and exactly one of tts (one model) or speech (several)")
        self.settings = settings
        self.catalog = catalog
        self.llm = llm
        # Speech in (Whisper); None when its model is not installed: the server then serves speech
        # out only, and the routes that need it answer 503 with ``stt_missing`` (the download command).
        self.stt = stt
        self.stt_missing = stt_missing
        if speech is None:
            assert tts is not None
            key = DEFAULT_ORPHEUS_MODEL
            speech = SpeechModels(
                [speech_model(key, catalog.orpheus, tts)], catalog_models=catalog.orpheus_models()
            )
        self.speech = speech
        # The custom (cloned) voices in VOICES_DIR, read now; a corrupt one is skipped, never fatal.
        if voices is None:
            voices = VoiceStore(settings.voices_dir, max_count=settings.voice_max_count)
            voices.load()
        self.voices = voices
        speech.attach_voices(voices)
        # Every stream's SNAC windows, of every Orpheus model, decoded on one thread in batched
        # calls (decode_scheduler.py): the models share one codec.
        self.snac = DecodeScheduler(
            self.tts.codec,
            batch_frames=snac_batch_frames(settings, resolve_device(settings.snac_device)),
            # Between requests, hand the heap's free pages back: glibc otherwise keeps what the
            # decodes and encoders freed, and the resident size creeps up request after request.
            on_idle=release_free_heap,
        )

    def encode_reference(self, audio: np.ndarray) -> np.ndarray:
        """A custom voice's prepared recording (24 kHz mono float32) as SNAC frames (F, 7); called
        from a worker thread. On a GPU it runs on the decode thread (DecodeScheduler.call), so it
        never races a decode for the device: there it takes tens of milliseconds. On a CPU SNAC's
        encoder runs at about real time (4.5 s for 5 s of audio measured on this project's 2-core
        CI machine), and on the decode thread it would stall every stream's audio that long, so
        it runs here instead and the decodes go on beside it."""
        codec = self.tts.codec
        if not isinstance(codec, SnacCodec):
            raise ConfigError("this server's audio codec cannot encode recordings: custom voices need SNAC")
        if codec.device.type == "cuda":
            return np.asarray(self.snac.call(lambda: codec.encode(audio)).result())
        return codec.encode(audio)

    @property
    def tts(self) -> OrpheusTTS:
        """The default Orpheus model's speech pipeline."""
        return self.speech.default.tts

    @property
    def orpheus_text(self) -> TextModel:
        """Raw Orpheus completions on the default model's engine."""
        return self.speech.default.text

    def resolve_voice(
        self, voice: str | None, model: str | None = None, *, param: str = "voice"
    ) -> ResolvedVoice:
        """The model and exact voice a request's ``voice`` (and ``model``) mean: see tts/registry.py."""
        return self.speech.resolve(voice, model, param=param)

    def warm_up(self) -> None:
        """One short generation on each engine and one SNAC decode of every window shape the
        server uses, through the same scheduler the server decodes with."""
        started = time.perf_counter()
        engines: list[tuple[BatchEngine, GenerationRequest]] = []
        for model in self.speech:
            params = replace(model.tts.default_params, max_tokens=WARM_UP_SPEECH_TOKENS, seed=WARM_UP_SEED)
            if model.voices:
                speech = model.tts.request(WARM_UP_TEXT, model.default_voice, params)
            else:
                # A cloning model without built-in voices: no voice to speak with until a custom
                # one is named, so its engine warms up on a raw completion of the same length.
                speech = model.text.completion_request(WARM_UP_TEXT, params)
            engines.append((model.tts.engine, speech))
        chat = self.llm.chat_request(
            [ChatMessage("user", WARM_UP_TEXT)],
            SamplingParams(max_tokens=WARM_UP_CHAT_TOKENS, seed=WARM_UP_SEED),
        )
        engines.append((self.llm.engine, chat))
        streams = [engine.submit(request) for engine, request in engines]  # the engines run together
        # Each served language's reading rules (CLDR spell-out, patterns): tens of ms the first
        # request in that language would otherwise pay before its first audio.
        normalize_warm_up({language for model in self.speech for language in model.languages})
        for stream in streams:
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
            "warmed up in %.1f s (%d engines, %d SNAC window shapes)",
            time.perf_counter() - started,
            len(engines),
            len(shapes),
        )

    def abort(self) -> None:
        """End every request in flight now (shutdown past its grace period); the engines stay up
        until ``close``."""
        for model in self.speech:
            model.tts.engine.abort()  # also serves that model's raw completions
        self.llm.engine.abort()
        if self.stt is not None:
            self.stt.abort()

    @functools.cached_property
    def listening(self) -> SpeechToText | None:
        """The server's Whisper on slots of its own (LISTEN_SLOTS), for listening to generated
        speech (service/listening.py), so that never holds up a transcription."""
        if self.stt is None:
            return None
        settings = self.settings
        return SpeechToText(
            self.stt.transcriber,
            slots=settings.listen_slots,
            max_queue=settings.max_queue,
            queue_timeout_s=settings.queue_timeout_s,
        )

    def close(self) -> None:
        if "listening" in self.__dict__ and self.listening is not None:
            self.listening.close()
        if self.stt is not None:
            self.stt.close()
        self.snac.close()
        self.speech.close()
        self.llm.close()


def preflight(settings: Settings, catalog: ModelCatalog) -> tuple[list[OrpheusChoice], Path]:
    """What must hold before anything heavy loads: every selected file present (else the error
    names its download command) and the selection within the memory budget. Returns the Orpheus
    choices and SNAC's path."""
    choices = select_orpheus(catalog, settings)
    for choice in choices:
        choice.require_file()
    llm_path, _ = resolve_model_path("llm", catalog, settings)
    snac_path, _ = resolve_model_path("snac", catalog, settings)
    check_memory_plan(
        settings,
        [(c.key, c.path, c.spec.clones) for c in choices],
        llm_path,
        snac_path,
        stt_dir=installed_stt(catalog, settings),
    )
    return choices, snac_path


def load_runtime(settings: Settings) -> Runtime:
    catalog = load_catalog(settings.catalog_path())
    choices, snac_path = preflight(settings, catalog)  # fail in milliseconds, before the heavy loads
    device = resolve_device(settings.snac_device)
    codec = load_snac(snac_path, device, compile_mode=settings.snac_compile)
    logger.info("SNAC on %s, shared by %d Orpheus model(s)", device, len(choices))
    speech = load_speech_models(settings, catalog, codec)
    try:
        llm = load_llm(settings, catalog)
    except BaseException:
        speech.close()
        raise
    stt, stt_missing = None, None
    try:
        stt = load_stt(settings, catalog)
    except ModelNotFoundError as exc:
        # Speech in is optional: a server upgraded without the Whisper download keeps speaking.
        stt_missing = exc.message
        logger.warning("speech in disabled: %s", exc.message)
    except BaseException:
        speech.close()
        llm.close()
        raise
    return Runtime(
        settings=settings, catalog=catalog, llm=llm, speech=speech, stt=stt, stt_missing=stt_missing
    )
