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
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
import os
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from coordinator.bench.shapes import (
    GEMMA_SPECIAL_IDS,
    GEMMA_VOCAB,
    LLAMA3_SPECIAL_IDS,
    ORPHEUS_CUSTOM_TOKEN_OFFSET,
    ORPHEUS_VOCAB,
    TINY,
    ModelShape,
)
from coordinator.errors import CoordinatorError
from coordinator.orpheus.layout import N_CUSTOM_TOKENS, custom_token_text

logger = logging.getLogger(__name__)

# The tests' Orpheus-like model puts <custom_token_0> here; the released model has 128256.
TINY_CUSTOM_TOKEN_OFFSET = 777
MAX_PIECE_SCORE = 16  # scores are length - 16: negative, longer is better
OUTPUT_GAIN_UNDER_SOFTCAP = 100.0  # see _f32_values
SENTENCE_EVERY = 8  # a random chat model's sentences: about this many words (see _fill_with_words)
WEIGHT_SCALE = 0.5  # large enough that logits vary token to token, small enough to stay finite
# Standard deviation of a uniform int8 (all 256 values): Q8_0 scale = wanted std / this.
_UNIFORM_INT8_STD = math.sqrt((256**2 - 1) / 12)
_Q8_0 = gguf.GGMLQuantizationType.Q8_0
_Q8_0_BLOCK, _Q8_0_BYTES = gguf.GGML_QUANT_SIZES[_Q8_0]
_SCALE_BYTES = 2  # a block starts with its float16 scale
# llama_ftype values (llama.h).
_LLAMA_FTYPE = {"Q8_0": 7, "Q4_K_M": 15}
_PROGRESS_EVERY_S = 5.0

GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)

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

T = gguf.TokenType


class BudgetExceededError(CoordinatorError):
    """The run's time budget (--max-seconds) ended before this step could finish."""

    code = "budget_exceeded"


@dataclass
class _Vocab:
    tokens: list[str]
    types: list[int]
    scores: list[float]

    def add(self, text: str, kind: int = T.NORMAL, score: float = 0.0) -> int:
        self.tokens.append(text)
        self.types.append(kind)
        self.scores.append(score)
        return len(self.tokens) - 1

    def index(self, text: str) -> int:
        return self.tokens.index(text)

    def fill_to(self, size: int) -> None:
        while len(self.tokens) < size:
            self.add(f"<unused_{len(self.tokens)}>", T.UNUSED)


def _text_pieces(vocab: _Vocab, words: tuple[str, ...] = ()) -> None:
    """Byte fallback plus characters and a few words (and ``words``), so any text tokenizes and
    round-trips."""
    for byte in range(256):
        vocab.add(f"<0x{byte:02X}>", T.BYTE)
    # llama.cpp's SPM tokenizer merges adjacent pieces only into pieces that exist, highest score
    # first: so a word needs every prefix in the vocabulary, scored higher the longer it is.
    pieces = {"▁": 1} | {c: 1 for c in string.ascii_letters + string.digits + string.punctuation}
    pieces |= {"▁" + c: 2 for c in string.ascii_letters}
    for word in ("tara", "hello", "there", "nice", "to", "meet", "you", "laugh", *words):
        pieces |= {"▁" + word[:end]: end + 1 for end in range(1, len(word) + 1)}
    for piece, length in pieces.items():
        vocab.add(piece, score=float(length - MAX_PIECE_SCORE))


@dataclass(frozen=True)
class _VocabSpec:
    vocab: _Vocab
    ids: dict[str, int]  # unk, bos, eos, eot, pad, ...


def orpheus_vocab(
    *, real_ids: bool, custom_token_offset: int = TINY_CUSTOM_TOKEN_OFFSET, words: tuple[str, ...] = ()
) -> _VocabSpec:
    """Llama 3 specials and every `<custom_token_N>`; at the released ids with ``real_ids``, else
    from ``custom_token_offset`` (several test models at several offsets, as fine-tunes could be)."""
    vocab = _Vocab([], [], [])
    if not real_ids:
        ids = {
            "unk": vocab.add("<unk>", T.UNKNOWN),
            "bos": vocab.add("<|begin_of_text|>", T.CONTROL),
            "eos": vocab.add("<|end_of_text|>", T.CONTROL),
            "eot": vocab.add("<|eot_id|>", T.CONTROL),
        }
        _text_pieces(vocab, words)
        if len(vocab.tokens) > custom_token_offset:
            raise ValueError(
                f"custom_token_offset {custom_token_offset} is below the {len(vocab.tokens)} text tokens"
            )
        vocab.fill_to(custom_token_offset)
    else:
        ids = {"unk": vocab.add("<unk>", T.UNKNOWN)}
        _text_pieces(vocab)
        for name, text in (("bos", "<|begin_of_text|>"), ("eos", "<|end_of_text|>"), ("eot", "<|eot_id|>")):
            vocab.fill_to(LLAMA3_SPECIAL_IDS[text])
            ids[name] = vocab.add(text, T.CONTROL)
        vocab.fill_to(ORPHEUS_CUSTOM_TOKEN_OFFSET)
    for n in range(N_CUSTOM_TOKENS):
        vocab.add(custom_token_text(n), T.CONTROL)
    if real_ids:
        vocab.fill_to(ORPHEUS_VOCAB)
    ids["pad"] = ids["eos"]
    return _VocabSpec(vocab, ids)


def _fill_with_words(vocab: _Vocab, size: int) -> None:
    """Pad the vocabulary with plain words, every SENTENCE_EVERY-th ending a sentence: a random chat
    model then says speakable text in sentences of about that many words, so /chat has something
    to speak (unused tokens would detokenize to nothing)."""
    while len(vocab.tokens) < size:
        n = len(vocab.tokens)
        vocab.add(f"▁w{n}" + ("." if n % SENTENCE_EVERY == 0 else ""), score=float(-MAX_PIECE_SCORE))


def gemma_vocab(*, real_ids: bool, words_to: int | None = None) -> _VocabSpec:
    """Gemma's specials; at the released ids, in a vocabulary of the released size, with ``real_ids``.
    ``words_to``: pad with plain words to that size (the released size with ``real_ids``)."""
    vocab = _Vocab([], [], [])
    kinds = {"<unk>": T.UNKNOWN}
    names = {"<pad>": "pad", "<eos>": "eos", "<bos>": "bos", "<unk>": "unk", "<end_of_turn>": "eot"}
    ids = {}
    for text, token_id in GEMMA_SPECIAL_IDS.items():
        if real_ids:
            vocab.fill_to(token_id)
        index = vocab.add(text, kinds.get(text, T.CONTROL))
        if text in names:
            ids[names[text]] = index
    _text_pieces(vocab)
    if real_ids or words_to is not None:
        _fill_with_words(vocab, GEMMA_VOCAB if real_ids else words_to or 0)
    return _VocabSpec(vocab, ids)


def _tensor_plan(shape: ModelShape, n_vocab: int) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, numpy shape, kind) of every tensor, in the order they are drawn and written."""
    n_embd, head = shape.n_embd, shape.n_embd_head
    q, kv = shape.n_heads * head, shape.n_heads_kv * head
    plan: list[tuple[str, tuple[int, ...], str]] = [
        ("token_embd.weight", (n_vocab, n_embd), "embedding"),
        ("output_norm.weight", (n_embd,), "output_norm"),
    ]
    if not shape.tied_output:
        plan.append(("output.weight", (n_vocab, n_embd), "output"))
    if shape.llama3_rope is not None:
        plan.append(("rope_freqs.weight", (head // 2,), "rope"))
    for layer in range(shape.n_layers):
        p = f"blk.{layer}"
        plan += [
            (f"{p}.attn_norm.weight", (n_embd,), "norm"),
            (f"{p}.attn_q.weight", (q, n_embd), "weight"),
            (f"{p}.attn_k.weight", (kv, n_embd), "weight"),
            (f"{p}.attn_v.weight", (kv, n_embd), "weight"),
            (f"{p}.attn_output.weight", (n_embd, q), "weight"),
        ]
        if shape.arch == "gemma2":
            plan.append((f"{p}.post_attention_norm.weight", (n_embd,), "norm"))
        plan += [
            (f"{p}.ffn_norm.weight", (n_embd,), "norm"),
            (f"{p}.ffn_gate.weight", (shape.n_ff, n_embd), "weight"),
            (f"{p}.ffn_up.weight", (shape.n_ff, n_embd), "weight"),
            (f"{p}.ffn_down.weight", (n_embd, shape.n_ff), "weight"),
        ]
        if shape.arch == "gemma2":
            plan.append((f"{p}.post_ffw_norm.weight", (n_embd,), "norm"))
    return plan


def llama3_rope_factors(shape: ModelShape) -> np.ndarray:
    """rope_freqs.weight as llama.cpp's converter computes it for rope_type llama3."""
    assert shape.llama3_rope is not None
    factor, low_freq_factor, high_freq_factor, old_context = shape.llama3_rope
    dim = shape.n_embd_head
    freqs = 1.0 / (shape.rope_theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    wavelen = 2 * math.pi / freqs
    low_wavelen, high_wavelen = old_context / low_freq_factor, old_context / high_freq_factor
    smooth = (old_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    factors = 1.0 / ((1 - smooth) / factor + smooth)
    factors = np.where(wavelen < high_wavelen, 1.0, np.where(wavelen > low_wavelen, factor, factors))
    return factors.astype(np.float32)


def _std(kind: str, cols: int) -> float:
    # As the tests' F32 models always drew them: embeddings N(0, 1), the output head scaled so that
    # logits vary by about WEIGHT_SCALE, every other matrix WEIGHT_SCALE / sqrt(fan-in).
    return {"embedding": 1.0, "output": WEIGHT_SCALE}.get(kind, WEIGHT_SCALE / math.sqrt(cols))


def _f32_values(rng: np.random.Generator, kind: str, dims: tuple[int, ...], shape: ModelShape) -> np.ndarray:
    if kind == "norm":
        return np.ones(dims, dtype=np.float32)
    if kind == "output_norm":
        # A model whose output reuses token_embd (Gemma) scores the token it just read far above
        # the rest (the residual stream is mostly that token's embedding), so a random one repeats
        # its last prompt token forever ("\n\n\n": nothing to speak). Logits this large all hit
        # the final soft cap instead, and the next token is drawn nearly uniformly.
        gain = OUTPUT_GAIN_UNDER_SOFTCAP if shape.tied_output and shape.final_softcap else 1.0
        return np.full(dims, gain, dtype=np.float32)
    if kind == "rope":
        return llama3_rope_factors(shape)
    if kind == "embedding":
        return rng.standard_normal(dims).astype(np.float32)
    values = (rng.standard_normal(dims) * WEIGHT_SCALE / np.sqrt(dims[-1])).astype(np.float32)
    if kind == "output":
        values *= np.float32(np.sqrt(dims[-1]))
    return values


def _q8_0_blocks(rng: np.random.Generator, kind: str, dims: tuple[int, ...]) -> np.ndarray:
    """Random Q8_0 data of ``dims`` weights as bytes (rows, blocks per row x 34)."""
    rows, cols = dims
    n_blocks = rows * cols // _Q8_0_BLOCK
    blocks = np.frombuffer(bytearray(rng.bytes(n_blocks * _Q8_0_BYTES)), dtype=np.uint8)
    blocks = blocks.reshape(n_blocks, _Q8_0_BYTES)
    scale = np.float16(_std(kind, cols) / _UNIFORM_INT8_STD)
    blocks[:, :_SCALE_BYTES] = np.frombuffer(scale.tobytes(), dtype=np.uint8)
    return blocks.reshape(rows, cols // _Q8_0_BLOCK * _Q8_0_BYTES)


def _check_deadline(deadline: float | None, what: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetExceededError(f"the time budget ended while {what}: raise --max-seconds")


def _configure(writer: gguf.GGUFWriter, shape: ModelShape, spec: _VocabSpec, quant: str) -> None:
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


def _tensors(
    shape: ModelShape, n_vocab: int, quant: str, seed: int
) -> Iterator[tuple[str, tuple[int, ...], Callable[[], np.ndarray], Any]]:
    """(name, numpy byte shape, make data, raw dtype or None) per tensor; data is made lazily."""
    rng = np.random.default_rng(seed)
    for name, dims, kind in _tensor_plan(shape, n_vocab):
        if quant == "F32" or len(dims) == 1:
            yield name, dims, functools.partial(_f32_values, rng, kind, dims, shape), None
        else:
            rows, cols = dims
            byte_dims = (rows, cols // _Q8_0_BLOCK * _Q8_0_BYTES)
            yield name, byte_dims, functools.partial(_q8_0_blocks, rng, kind, dims), _Q8_0


def write_gguf(
    path: Path,
    shape: ModelShape,
    spec: _VocabSpec,
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
    if shape.n_embd % _Q8_0_BLOCK or shape.n_ff % _Q8_0_BLOCK:
        raise CoordinatorError(f"{label}: rows of {shape.n_embd} or {shape.n_ff} weights cannot be quantized")
    n_vocab = len(spec.vocab.tokens)
    partial = path.with_name(path.name + ".partial")
    writer = gguf.GGUFWriter(str(partial), shape.arch)
    _configure(writer, shape, spec, quant)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    tensors = list(_tensors(shape, n_vocab, quant, seed))
    for name, dims, _, raw_dtype in tensors:
        dtype = np.float32 if raw_dtype is None else np.uint8
        nbytes = int(np.prod(dims)) * np.dtype(dtype).itemsize
        writer.add_tensor_info(name, dims, np.dtype(dtype), nbytes, raw_dtype=raw_dtype)
    total = sum(int(np.prod(dims)) * (4 if raw is None else 1) for _, dims, _, raw in tensors)
    started = last_report = time.monotonic()
    written = 0
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for _, _, make, _ in tensors:
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
    from dataclasses import replace

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
