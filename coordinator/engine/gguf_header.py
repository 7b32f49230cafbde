"""The shape of a GGUF model (layers, heads, widths, vocabulary size), read from its header
without loading it: what the memory plan needs before anything heavy is allocated.

GGUF (llama.cpp's gguf.h): "GGUF", uint32 version, uint64 tensor count, uint64 key-value count,
then the key-values, each a string key, a uint32 type and the value; all little-endian.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from coordinator.errors import ModelLoadError

GGUF_MAGIC = b"GGUF"
MIN_VERSION = 2  # version 1 used 32-bit counts; nothing publishes it any more
# gguf_type: the byte size of each fixed-size scalar type.
_SCALAR_FORMATS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
# Beyond these a header is corrupt rather than large (the released models have ~30 keys and a
# vocabulary of ~157k tokens).
MAX_KEYS = 10_000
MAX_STRING_BYTES = 1 << 24


@dataclass(frozen=True)
class ModelShape:
    architecture: str
    n_layers: int
    n_embd: int
    n_heads: int
    n_heads_kv: int
    key_length: int
    value_length: int
    n_vocab: int

    @property
    def kv_values_per_token(self) -> int:
        """K and V values one token takes in the cache, over all layers."""
        return self.n_layers * self.n_heads_kv * (self.key_length + self.value_length)


def _read(handle: BinaryIO, size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise EOFError
    return data


def _unpack(handle: BinaryIO, fmt: str) -> int | float | bool:
    value: int | float | bool = struct.unpack("<" + fmt, _read(handle, struct.calcsize(fmt)))[0]
    return value


def _string(handle: BinaryIO) -> str:
    length = int(_unpack(handle, "Q"))
    if length > MAX_STRING_BYTES:
        raise ValueError(f"a string of {length} bytes")
    return _read(handle, length).decode("utf-8", errors="replace")


def _value(handle: BinaryIO, kind: int) -> object:
    if kind in _SCALAR_FORMATS:
        return _unpack(handle, _SCALAR_FORMATS[kind])
    if kind == _STRING:
        return _string(handle)
    if kind == _ARRAY:
        item_kind, count = int(_unpack(handle, "I")), int(_unpack(handle, "Q"))
        if item_kind in _SCALAR_FORMATS:
            # Skipped, not parsed: the vocabulary's scores and types are ~157k entries each.
            handle.seek(count * struct.calcsize(_SCALAR_FORMATS[item_kind]), 1)
            return count
        for _ in range(count):
            _value(handle, item_kind)
        return count  # only arrays' lengths are needed (the vocabulary size)
    raise ValueError(f"unknown value type {kind}")


def read_shape(path: Path) -> ModelShape:
    """The model's shape from its GGUF header; a file that is not one is a ModelLoadError."""
    try:
        with path.open("rb") as handle:
            if handle.read(len(GGUF_MAGIC)) != GGUF_MAGIC:
                raise ValueError("it does not start with 'GGUF'")
            version = int(_unpack(handle, "I"))
            if version < MIN_VERSION:
                raise ValueError(f"GGUF version {version} is too old")
            _tensors, n_keys = int(_unpack(handle, "Q")), int(_unpack(handle, "Q"))
            if n_keys > MAX_KEYS:
                raise ValueError(f"{n_keys} metadata keys")
            meta: dict[str, object] = {}
            for _ in range(n_keys):
                key = _string(handle)
                meta[key] = _value(handle, int(_unpack(handle, "I")))
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    except (EOFError, ValueError, struct.error) as exc:
        raise ModelLoadError(
            f"{path} is not a readable GGUF file ({exc or 'truncated'}): re-download it"
        ) from None
    arch = str(meta.get("general.architecture", "llama"))

    def number(name: str, default: int | None = None) -> int:
        value = meta.get(f"{arch}.{name}", default)
        if not isinstance(value, int | float):
            raise ModelLoadError(f"{path} lacks {arch}.{name} in its GGUF metadata: re-download it")
        return int(value)

    n_embd, n_heads = number("embedding_length"), number("attention.head_count")
    head_dim = n_embd // max(n_heads, 1)
    n_vocab = meta.get("tokenizer.ggml.tokens", meta.get(f"{arch}.vocab_size", 0))
    return ModelShape(
        architecture=arch,
        n_layers=number("block_count"),
        n_embd=n_embd,
        n_heads=n_heads,
        n_heads_kv=number("attention.head_count_kv", n_heads),
        key_length=number("attention.key_length", head_dim),
        value_length=number("attention.value_length", head_dim),
        n_vocab=int(n_vocab) if isinstance(n_vocab, int) else 0,
    )
