"""The tiny GGUF models really load, tokenize and generate in llama.cpp.

Everything else in the suite trusts these files to behave like the real Orpheus and Gemma models
at the vocabulary level, so the checks here pin down exactly those properties.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from coordinator.orpheus.layout import N_CUSTOM_TOKENS
from tests.rig.tiny_gguf import ORPHEUS_CUSTOM_TOKEN_OFFSET

TEST_N_CTX = 512
N_GENERATE = 20
# Custom tokens to spot-check: the first, an arbitrary middle one and the last.
CUSTOM_TOKEN_SAMPLES = (0, 5, 4096, N_CUSTOM_TOKENS - 1)
# Orpheus's four specials ahead of the custom tokens are all defined, so the vocab ends exactly
# at the last custom token.
ORPHEUS_N_VOCAB = ORPHEUS_CUSTOM_TOKEN_OFFSET + N_CUSTOM_TOKENS


def _load(path: Path, **kwargs: object) -> llama_cpp.Llama:
    return llama_cpp.Llama(model_path=str(path), n_ctx=TEST_N_CTX, verbose=False, seed=0, **kwargs)


def _token_text(llm: llama_cpp.Llama, token: int) -> str:
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    return llama_cpp.llama_vocab_get_text(vocab, token).decode()


@pytest.fixture(scope="module")
def orpheus_path(orpheus_gguf: Path) -> Path:
    return orpheus_gguf


@pytest.fixture(scope="module")
def chat_path(chat_gguf: Path) -> Path:
    return chat_gguf


@pytest.fixture(scope="module")
def orpheus(orpheus_path: Path) -> llama_cpp.Llama:
    return _load(orpheus_path)


@pytest.fixture(scope="module")
def chat(chat_path: Path) -> llama_cpp.Llama:
    return _load(chat_path)


def test_orpheus_vocab_size(orpheus: llama_cpp.Llama) -> None:
    assert orpheus.n_vocab() == ORPHEUS_N_VOCAB


@pytest.mark.parametrize("n", CUSTOM_TOKEN_SAMPLES)
def test_custom_token_text_sits_at_offset(orpheus: llama_cpp.Llama, n: int) -> None:
    assert _token_text(orpheus, ORPHEUS_CUSTOM_TOKEN_OFFSET + n) == f"<custom_token_{n}>"


def test_custom_token_parses_only_as_special(orpheus: llama_cpp.Llama) -> None:
    text = b"<custom_token_5>"
    assert orpheus.tokenize(text, add_bos=False, special=True) == [ORPHEUS_CUSTOM_TOKEN_OFFSET + 5]
    # As plain text it is spelled out from ordinary pieces instead.
    plain = orpheus.tokenize(text, add_bos=False, special=False)
    assert len(plain) > 1
    assert all(token < ORPHEUS_CUSTOM_TOKEN_OFFSET for token in plain)


def test_orpheus_text_round_trips(orpheus: llama_cpp.Llama) -> None:
    text = "tara: Hello there <laugh> ok"
    ids = orpheus.tokenize(text.encode(), add_bos=True, special=False)
    assert ids[0] == orpheus.token_bos()
    # SPM adds a "▁" prefix to the text. llama-cpp-python drops the resulting leading space only
    # when the first token is BOS, so the exact round trip holds with BOS and is one space off
    # without it.
    assert orpheus.detokenize(ids).decode() == text
    assert orpheus.detokenize(ids[1:]).decode() == " " + text


def test_non_ascii_text_falls_back_to_bytes(orpheus: llama_cpp.Llama) -> None:
    text = "héllo ☃ 🎉"
    ids = orpheus.tokenize(text.encode(), add_bos=True, special=False)
    assert orpheus.detokenize(ids).decode() == text


def test_orpheus_special_ids(orpheus: llama_cpp.Llama) -> None:
    assert _token_text(orpheus, orpheus.token_bos()) == "<|begin_of_text|>"
    assert _token_text(orpheus, orpheus.token_eos()) == "<|end_of_text|>"


def test_chat_vocab_lacks_custom_tokens(chat: llama_cpp.Llama) -> None:
    assert chat.n_vocab() < ORPHEUS_CUSTOM_TOKEN_OFFSET
    assert len(chat.tokenize(b"<custom_token_5>", add_bos=False, special=True)) > 1
    assert _token_text(chat, chat.token_bos()) == "<bos>"
    assert _token_text(chat, chat.token_eos()) == "<eos>"


@pytest.mark.parametrize("which", ["orpheus", "chat"])
def test_generates_with_varied_finite_logits(which: str, orpheus_path: Path, chat_path: Path) -> None:
    # logits_all keeps every evaluated row in `llm.scores`, so the test can inspect them.
    llm = _load(orpheus_path if which == "orpheus" else chat_path, logits_all=True)
    prompt = llm.tokenize(b"hello there", add_bos=True, special=False)
    generated = list(islice(llm.generate(prompt, temp=1.0), N_GENERATE))
    assert len(generated) == N_GENERATE
    assert all(0 <= token < llm.n_vocab() for token in generated)
    logits = np.asarray(llm.scores[: llm.n_tokens])
    assert logits.shape[0] >= len(prompt) + N_GENERATE - 1
    assert np.isfinite(logits).all()
    assert (logits.std(axis=1) > 0).all()


def test_orpheus_create_completion(orpheus: llama_cpp.Llama) -> None:
    out = orpheus.create_completion("tara: hello", max_tokens=N_GENERATE, temperature=1.0)
    assert 0 < out["usage"]["completion_tokens"] <= N_GENERATE


def test_chat_completion_uses_template(chat: llama_cpp.Llama) -> None:
    template = chat.metadata["tokenizer.chat_template"]
    assert "<start_of_turn>" in template and "System role not supported" in template
    out = chat.create_chat_completion(messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    assert out["choices"][0]["message"]["role"] == "assistant"
    assert out["usage"]["completion_tokens"] > 0
