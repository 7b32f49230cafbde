"""A tiny random-weight Whisper in CTranslate2's format, as faster-whisper loads it.

The real architecture (conv front end, encoder, decoder with cross-attention, Whisper's full
multilingual token layout: 50257 text tokens, the special tokens, 99 languages, 1501 timestamps),
only small: 64 wide, 2 layers each. Weights are written straight into CTranslate2's model spec
(no transformers needed) and the tokenizer is a word-level ``tokenizers`` file with the same ids.
What it transcribes is meaningless; that it runs end to end through the real engine is the point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coordinator.stt.formats import LANGUAGE_NAMES

N_MELS = 80
N_AUDIO_CTX = 1500  # 30 s of 10 ms mel frames, halved by the second convolution
N_TEXT_CTX = 448


@dataclass(frozen=True)
class Dims:
    width: int = 64
    heads: int = 2
    layers: int = 2  # encoder and decoder each

    @property
    def ffn(self) -> int:
        return 4 * self.width


TEST_DIMS = Dims()
# openai/whisper-tiny's shape (39 M parameters): what the engine benchmark runs.
WHISPER_TINY_DIMS = Dims(width=384, heads=6, layers=4)
TEXT_TOKENS = 50257  # GPT-2's byte-pair vocabulary, before Whisper's special tokens
# Whisper v2's 99 languages, in its token order (ids 50259..50357); v3 adds Cantonese last.
V2_LANGUAGES = 99
LANGUAGES = list(LANGUAGE_NAMES)[:V2_LANGUAGES]
TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|> every 20 ms
INIT_STD = 0.2


def vocabulary() -> list[str]:
    specials = ["<|endoftext|>", "<|startoftranscript|>"]
    specials += [f"<|{lang}|>" for lang in LANGUAGES]
    specials += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>"]
    specials += ["<|notimestamps|>"]
    # CTranslate2 tells a multilingual Whisper by an empty-string token in its vocabulary, which
    # the real multilingual vocabulary has and the English-only one lacks.
    words = [f"w{i}" for i in range(TEXT_TOKENS - 1)] + [""]
    return words + specials + [f"<|{i * 0.02:.2f}|>" for i in range(TIMESTAMPS)]


def _tokenizer_json(tokens: list[str]) -> dict:
    specials = [t for t in tokens if t.startswith("<|")]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": tokens.index(t),
                "content": t,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for t in specials
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": None,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": False},
        "model": {"type": "WordLevel", "vocab": {t: i for i, t in enumerate(tokens)}, "unk_token": "w0"},
    }


def _linear(rng: np.random.Generator, out: int, inp: int, spec, *, bias: bool = True) -> None:
    spec.weight = (rng.standard_normal((out, inp)) * INIT_STD / np.sqrt(inp / TEST_DIMS.width)).astype(
        np.float32
    )
    if bias:
        spec.bias = (rng.standard_normal(out) * INIT_STD).astype(np.float32)


def _norm(spec, d: int) -> None:
    spec.gamma = np.ones(d, dtype=np.float32)
    spec.beta = np.zeros(d, dtype=np.float32)


def _attention(rng: np.random.Generator, spec, d: int, *, cross: bool) -> None:
    _norm(spec.layer_norm, d)
    if cross:
        _linear(rng, d, d, spec.linear[0])  # queries
        _linear(rng, 2 * d, d, spec.linear[1])  # keys and values, fused
        _linear(rng, d, d, spec.linear[2])
    else:
        _linear(rng, 3 * d, d, spec.linear[0])  # queries, keys and values, fused
        _linear(rng, d, d, spec.linear[1])


def _ffn(rng: np.random.Generator, spec, d: int) -> None:
    _norm(spec.layer_norm, d)
    _linear(rng, 4 * d, d, spec.linear_0)
    _linear(rng, d, 4 * d, spec.linear_1)


def build_tiny_whisper(directory: Path, *, seed: int = 0, dims: Dims = TEST_DIMS) -> Path:
    """Write a faster-whisper model directory (model.bin, config.json, vocabulary, tokenizer.json,
    preprocessor_config.json) and return it."""
    from ctranslate2.specs import whisper_spec

    rng = np.random.default_rng(seed)
    tokens = vocabulary()
    D_MODEL, N_LAYERS, N_HEADS = dims.width, dims.layers, dims.heads  # noqa: N806
    spec = whisper_spec.WhisperSpec(N_LAYERS, N_HEADS, N_LAYERS, N_HEADS)
    encoder, decoder = spec.encoder, spec.decoder
    encoder.conv1.weight = (rng.standard_normal((D_MODEL, N_MELS, 3)) * INIT_STD).astype(np.float32)
    encoder.conv1.bias = np.zeros(D_MODEL, dtype=np.float32)
    encoder.conv2.weight = (rng.standard_normal((D_MODEL, D_MODEL, 3)) * INIT_STD).astype(np.float32)
    encoder.conv2.bias = np.zeros(D_MODEL, dtype=np.float32)
    encoder.position_encodings.encodings = (rng.standard_normal((N_AUDIO_CTX, D_MODEL)) * INIT_STD).astype(
        np.float32
    )
    _norm(encoder.layer_norm, D_MODEL)
    for layer in encoder.layer:
        _attention(rng, layer.self_attention, D_MODEL, cross=False)
        _ffn(rng, layer.ffn, D_MODEL)
    decoder.embeddings.weight = (rng.standard_normal((len(tokens), D_MODEL)) * INIT_STD).astype(np.float32)
    decoder.position_encodings.encodings = (rng.standard_normal((N_TEXT_CTX, D_MODEL)) * INIT_STD).astype(
        np.float32
    )
    _norm(decoder.layer_norm, D_MODEL)
    for layer in decoder.layer:
        _attention(rng, layer.self_attention, D_MODEL, cross=False)
        _attention(rng, layer.attention, D_MODEL, cross=True)
        _ffn(rng, layer.ffn, D_MODEL)
    decoder.projection.weight = decoder.embeddings.weight  # tied, as in Whisper
    spec.register_vocabulary(tokens)
    eot = tokens.index("<|endoftext|>")
    spec.config.suppress_ids = [tokens.index("<|nocaptions|>")]
    spec.config.suppress_ids_begin = [tokens.index("w220"), eot]
    spec.config.lang_ids = [tokens.index(f"<|{lang}|>") for lang in LANGUAGES]
    spec.config.alignment_heads = [
        (N_LAYERS // 2 + i, h) for i in range(N_LAYERS // 2) for h in range(N_HEADS)
    ]
    spec.validate()
    spec.optimize(quantization="float32")
    directory.mkdir(parents=True, exist_ok=True)
    spec.save(str(directory))
    (directory / "tokenizer.json").write_text(json.dumps(_tokenizer_json(tokens)), encoding="utf-8")
    (directory / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "feature_size": N_MELS,
                "sampling_rate": 16000,
                "hop_length": 160,
                "chunk_length": 30,
                "n_fft": 400,
            }
        ),
        encoding="utf-8",
    )
    return directory
