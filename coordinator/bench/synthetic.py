"""Random-weight models written at run time: GGUFs of any shape (tiny for tests, real for speed) and SNAC.

The GGUFs load and generate in llama.cpp like the released ones: arch "llama" (Orpheus) or
"gemma2" (Gemma 2), a SentencePiece vocabulary with byte fallback and control tokens, the special
tokens at the ids the released tokenizers give them (``real_ids=True``), `<custom_token_N>` at
128256 + N as in Orpheus 3B. The tiny test models put them at an odd offset instead, so any code
that assumes 128256 fails the tests. Values are random, so the models say nothing of quality: only
of speed, which depends on the shapes and the quantization alone.

Quantizations: F32 (the tests' tiny models), Q8_0 written directly as random blocks (a block is a
float16 scale and 32 int8 weights: random bytes with a fixed scale are valid Q8_0 weights, written
at disk speed instead of quantizing floats), and Q4_K_M made from that Q8_0 by llama.cpp's own
quantizer (``llama_model_quantize``), so the mix of Q4_K and Q6_K tensors is exactly llama.cpp's.

Writes are atomic (a ``.partial`` file renamed when complete), so a file that exists is whole and
is reused by the next run.

This module writes the files; the tokenizers are in ``vocab``, the tensors and their random values
in ``weights``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from dataclasses import replace
from pathlib import Path

import gguf
import numpy as np

from coordinator.bench.shapes import TINY, ModelShape
from coordinator.bench.vocab import (
    GEMMA_CHAT_TEMPLATE,
    TINY_CUSTOM_TOKEN_OFFSET,
    TINY_PRETRAINED_CUSTOM_TOKEN_OFFSET,
    VocabSpec,
    gemma_vocab,
    orpheus_vocab,
)
from coordinator.bench.weights import Q8_0_BLOCK, tensors
from coordinator.errors import CoordinatorError

logger = logging.getLogger(__name__)

# llama_ftype values (llama.h).
_LLAMA_FTYPE = {"Q8_0": 7, "Q4_K_M": 15}
_PROGRESS_EVERY_S = 5.0

# hubertsiuzdak/snac_24khz config.json.
SNAC_24KHZ_CONFIG = {
    "sampling_rate": 24000,
    "encoder_dim": 48,
    "encoder_rates": [2, 4, 8, 8],
    "decoder_dim": 1024,
    "decoder_rates": [8, 8, 4, 2],
    "attn_window_size": None,
    "codebook_size": 4096,
    "codebook_dim": 8,
    "vq_strides": [4, 2, 1],
    "noise": True,
    "depthwise": True,
}


class BudgetExceededError(CoordinatorError):
    """The run's time budget (--max-seconds) ended before this step could finish."""

    code = "budget_exceeded"


def _check_deadline(deadline: float | None, what: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetExceededError(f"the time budget ended while {what}: raise --max-seconds")


def _configure(writer: gguf.GGUFWriter, shape: ModelShape, spec: VocabSpec, quant: str) -> None:
    vocab = spec.vocab
    writer.add_context_length(shape.n_ctx_train)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(shape.n_layers)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(shape.n_heads)
    writer.add_head_count_kv(shape.n_heads_kv)
    writer.add_layer_norm_rms_eps(shape.rms_eps)
    if shape.arch == "gemma2":
        writer.add_key_length(shape.n_embd_head)
        writer.add_value_length(shape.n_embd_head)
        if shape.sliding_window is not None:
            writer.add_sliding_window(shape.sliding_window)
        if shape.attn_softcap is not None:
            writer.add_attn_logit_softcapping(shape.attn_softcap)
        if shape.final_softcap is not None:
            writer.add_final_logit_softcapping(shape.final_softcap)
    else:
        writer.add_rope_dimension_count(shape.n_embd_head)
        writer.add_rope_freq_base(shape.rope_theta)
    writer.add_vocab_size(len(vocab.tokens))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32 if quant == "F32" else gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(vocab.tokens)
    writer.add_token_scores(vocab.scores)
    writer.add_token_types(vocab.types)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_unk_token_id(spec.ids["unk"])
    writer.add_bos_token_id(spec.ids["bos"])
    writer.add_eos_token_id(spec.ids["eos"])
    writer.add_eot_token_id(spec.ids["eot"])
    writer.add_pad_token_id(spec.ids["pad"])


def write_gguf(
    path: Path,
    shape: ModelShape,
    spec: VocabSpec,
    *,
    quant: str = "F32",
    seed: int = 0,
    chat_template: str | None = None,
    deadline: float | None = None,
    label: str = "model",
) -> Path:
    """Write a random-weight GGUF of ``shape`` in ``quant`` (F32, Q8_0 or Q4_K_M) to ``path``."""
    if quant == "Q4_K_M":
        source = path.with_name(path.stem + ".q8_0-source.gguf")
        write_gguf(
            source,
            shape,
            spec,
            quant="Q8_0",
            seed=seed,
            chat_template=chat_template,
            deadline=deadline,
            label=label,
        )
        try:
            quantize(source, path, quant, deadline=deadline, label=label)
        finally:
            source.unlink(missing_ok=True)
        return path
    if quant not in ("F32", "Q8_0"):
        raise CoordinatorError(f"cannot write quantization {quant!r}: choose F32, Q8_0 or Q4_K_M")
    if shape.n_embd % Q8_0_BLOCK or shape.n_ff % Q8_0_BLOCK:
        raise CoordinatorError(f"{label}: rows of {shape.n_embd} or {shape.n_ff} weights cannot be quantized")
    n_vocab = len(spec.vocab.tokens)
    partial = path.with_name(path.name + ".partial")
    writer = gguf.GGUFWriter(str(partial), shape.arch)
    _configure(writer, shape, spec, quant)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    planned = list(tensors(shape, n_vocab, quant, seed))
    for name, dims, _, raw_dtype in planned:
        dtype = np.float32 if raw_dtype is None else np.uint8
        nbytes = int(np.prod(dims)) * np.dtype(dtype).itemsize
        writer.add_tensor_info(name, dims, np.dtype(dtype), nbytes, raw_dtype=raw_dtype)
    total = sum(int(np.prod(dims)) * (4 if raw is None else 1) for _, dims, _, raw in planned)
    started = last_report = time.monotonic()
    written = 0
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for _, _, make, _ in planned:
            _check_deadline(deadline, f"writing the synthetic {label}")
            data = make()
            writer.write_tensor_data(data)
            written += data.nbytes
            if time.monotonic() - last_report > _PROGRESS_EVERY_S:
                last_report = time.monotonic()
                logger.info("writing %s %s: %.2f of %.2f GB", label, quant, written / 1e9, total / 1e9)
        writer.close()
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    logger.info(
        "wrote %s %s (%.2f GB) in %.1f s", label, quant, path.stat().st_size / 1e9, time.monotonic() - started
    )
    return path


def quantize(
    source: Path, target: Path, quant: str, *, deadline: float | None = None, label: str = "model"
) -> Path:
    """Re-quantize ``source`` into ``target`` with llama.cpp's own quantizer (all CPUs)."""
    import llama_cpp

    from coordinator.engine.llama_model import init_backend

    _check_deadline(deadline, f"quantizing the synthetic {label}")
    init_backend()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = _LLAMA_FTYPE[quant]
    params.nthread = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    params.allow_requantize = True
    partial = target.with_name(target.name + ".partial")
    started = time.monotonic()
    logger.info("quantizing %s to %s with llama.cpp (%d threads)", label, quant, params.nthread)
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.byref(params))
    if status != 0:
        partial.unlink(missing_ok=True)
        raise CoordinatorError(f"llama.cpp could not quantize {source.name} to {quant} (status {status})")
    partial.replace(target)
    logger.info(
        "quantized %s to %s (%.2f GB) in %.1f s",
        label,
        quant,
        target.stat().st_size / 1e9,
        time.monotonic() - started,
    )
    return target


def build_orpheus_gguf(
    path: Path,
    *,
    seed: int = 0,
    n_ctx_train: int = 4096,
    shape: ModelShape = TINY,
    quant: str = "F32",
    real_ids: bool = False,
    deadline: float | None = None,
    custom_token_offset: int = TINY_CUSTOM_TOKEN_OFFSET,
    words: tuple[str, ...] = (),
) -> Path:
    """An Orpheus-like model: Llama-3 style specials and every `<custom_token_N>` (from
    ``custom_token_offset`` unless ``real_ids``); ``words`` (voice names, say) get pieces of their
    own, as a real fine-tune's tokenizer has."""
    shape = _with_context(shape, n_ctx_train, real_ids)
    return write_gguf(
        path,
        shape,
        orpheus_vocab(real_ids=real_ids, custom_token_offset=custom_token_offset, words=words),
        quant=quant,
        seed=seed,
        deadline=deadline,
        label="Orpheus",
    )


def build_pretrained_orpheus_gguf(
    path: Path, *, seed: int = 1, n_ctx_train: int = 4096, shape: ModelShape = TINY
) -> Path:
    """The tests' stand-in for the pretrained (cloning) Orpheus: the same architecture as the
    fine-tune's, no voice names, its own custom-token offset and weights."""
    return build_orpheus_gguf(
        path,
        seed=seed,
        n_ctx_train=n_ctx_train,
        shape=shape,
        custom_token_offset=TINY_PRETRAINED_CUSTOM_TOKEN_OFFSET,
    )


def build_chat_gguf(
    path: Path,
    *,
    seed: int = 0,
    n_ctx_train: int = 4096,
    shape: ModelShape = TINY,
    quant: str = "F32",
    real_ids: bool = False,
    words_to: int | None = None,
    deadline: float | None = None,
) -> Path:
    """A Gemma-like chat model with Gemma 2's chat template; it has no Orpheus tokens."""
    shape = _with_context(shape, n_ctx_train, real_ids)
    return write_gguf(
        path,
        shape,
        gemma_vocab(real_ids=real_ids, words_to=words_to),
        quant=quant,
        seed=seed,
        chat_template=GEMMA_CHAT_TEMPLATE,
        deadline=deadline,
        label="Gemma",
    )


def _with_context(shape: ModelShape, n_ctx_train: int, real_ids: bool) -> ModelShape:
    # The released shapes carry their own trained context; the tests' tiny ones take the argument.
    if real_ids:
        return shape
    return replace(shape, n_ctx_train=n_ctx_train)


def write_random_snac(directory: Path, *, seed: int = 0) -> Path:
    """Write config.json + pytorch_model.bin of a randomly initialised SNAC 24 kHz (19.8 M weights)."""
    import json

    import torch
    from snac import SNAC

    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = SNAC(**SNAC_24KHZ_CONFIG)
    (directory / "config.json").write_text(json.dumps(SNAC_24KHZ_CONFIG))
    partial = directory / "pytorch_model.bin.partial"
    torch.save(model.state_dict(), partial)
    partial.replace(directory / "pytorch_model.bin")
    return directory
