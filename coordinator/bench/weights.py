"""The weights of the random-weight models (``synthetic``): which tensors a shape has, and their
values, drawn from a seed. F32 values for the tests' tiny models; Q8_0 written directly as random
blocks (a float16 scale and 32 int8 weights: random bytes with a fixed scale are valid Q8_0 weights,
written at disk speed instead of quantizing floats)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from typing import Any

import gguf
import numpy as np

from coordinator.bench.shapes import ModelShape

OUTPUT_GAIN_UNDER_SOFTCAP = 100.0  # see _f32_values
WEIGHT_SCALE = 0.5  # large enough that logits vary token to token, small enough to stay finite
# Standard deviation of a uniform int8 (all 256 values): Q8_0 scale = wanted std / this.
_UNIFORM_INT8_STD = math.sqrt((256**2 - 1) / 12)
Q8_0 = gguf.GGMLQuantizationType.Q8_0
Q8_0_BLOCK, Q8_0_BYTES = gguf.GGML_QUANT_SIZES[Q8_0]
_SCALE_BYTES = 2  # a block starts with its float16 scale


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
    n_blocks = rows * cols // Q8_0_BLOCK
    blocks = np.frombuffer(bytearray(rng.bytes(n_blocks * Q8_0_BYTES)), dtype=np.uint8)
    blocks = blocks.reshape(n_blocks, Q8_0_BYTES)
    scale = np.float16(_std(kind, cols) / _UNIFORM_INT8_STD)
    blocks[:, :_SCALE_BYTES] = np.frombuffer(scale.tobytes(), dtype=np.uint8)
    return blocks.reshape(rows, cols // Q8_0_BLOCK * Q8_0_BYTES)


def tensors(
    shape: ModelShape, n_vocab: int, quant: str, seed: int
) -> Iterator[tuple[str, tuple[int, ...], Callable[[], np.ndarray], Any]]:
    """(name, numpy byte shape, make data, raw dtype or None) per tensor; data is made lazily."""
    rng = np.random.default_rng(seed)
    for name, dims, kind in _tensor_plan(shape, n_vocab):
        if quant == "F32" or len(dims) == 1:
            yield name, dims, functools.partial(_f32_values, rng, kind, dims, shape), None
        else:
            rows, cols = dims
            byte_dims = (rows, cols // Q8_0_BLOCK * Q8_0_BYTES)
            yield name, byte_dims, functools.partial(_q8_0_blocks, rng, kind, dims), Q8_0
