"""Tiny random-weight GGUF models, built at test time.

The writer lives in the package (coordinator/bench/synthetic.py), because `coordinator bench
--synthetic` writes the real-shape models with it at run time; the tests use the same code. The
tiny models load and generate in llama.cpp like the real ones but weigh ~10 MB, and the
Orpheus-like one puts `<custom_token_N>` at an unusual offset, so any code that assumes the
released model's 128256 would fail.
"""

from __future__ import annotations

from coordinator.bench.shapes import SMALL, TINY, ModelShape
from coordinator.bench.synthetic import build_chat_gguf, build_orpheus_gguf, build_pretrained_orpheus_gguf
from coordinator.bench.vocab import GEMMA_CHAT_TEMPLATE
from coordinator.bench.vocab import TINY_CUSTOM_TOKEN_OFFSET as ORPHEUS_CUSTOM_TOKEN_OFFSET
from coordinator.bench.vocab import TINY_PRETRAINED_CUSTOM_TOKEN_OFFSET as ORPHEUS_PT_CUSTOM_TOKEN_OFFSET

__all__ = [
    "GEMMA_CHAT_TEMPLATE",
    "ORPHEUS_CUSTOM_TOKEN_OFFSET",
    "ORPHEUS_PT_CUSTOM_TOKEN_OFFSET",
    "SMALL",
    "TINY",
    "ModelShape",
    "build_chat_gguf",
    "build_orpheus_gguf",
    "build_pretrained_orpheus_gguf",
]
