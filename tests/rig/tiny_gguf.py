"""Tiny random-weight GGUF models, built at test time with the `gguf` package.

They load and generate in llama.cpp like the real ones (arch "llama", SentencePiece vocabulary with
byte fallback, control tokens) but weigh ~10 MB. The Orpheus-like one puts `<custom_token_N>` at
an unusual offset, so any code that assumes the released model's 128256 would fail.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from coordinator.orpheus.layout import N_CUSTOM_TOKENS, custom_token_text

ORPHEUS_CUSTOM_TOKEN_OFFSET = 777  # the released model has 128256

N_EMBD = 64
N_LAYERS = 2
N_HEADS = 4
N_HEADS_KV = 2
N_FF = 128
RMS_EPS = 1e-5
MAX_PIECE_SCORE = 16  # scores are length - 16: negative, longer is better
WEIGHT_SCALE = 0.5  # large enough that logits vary token to token, small enough to stay finite

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

T = gguf.TokenType


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


def _text_pieces(vocab: _Vocab, words: tuple[str, ...] = ()) -> None:
    """Byte fallback plus characters and a few words, so any text tokenizes and round-trips."""
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
class ModelShape:
    n_embd: int = N_EMBD
    n_layers: int = N_LAYERS
    n_heads: int = N_HEADS
    n_heads_kv: int = N_HEADS_KV
    n_ff: int = N_FF


TINY = ModelShape()
# For benchmarks only (~200 MB): big enough that a decode step is bound by reading the weights,
# as a real model's is, rather than by the tiny model's per-token arithmetic.
SMALL = ModelShape(n_embd=512, n_layers=8, n_heads=8, n_heads_kv=4, n_ff=1536)


def _write(path: Path, vocab: _Vocab, *, seed: int, n_ctx_train: int, configure, shape: ModelShape) -> Path:
    rng = np.random.default_rng(seed)
    n_embd, n_heads, n_heads_kv = shape.n_embd, shape.n_heads, shape.n_heads_kv
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(n_ctx_train)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(shape.n_layers)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(n_heads)
    writer.add_head_count_kv(n_heads_kv)
    writer.add_rope_dimension_count(n_embd // n_heads)
    writer.add_layer_norm_rms_eps(RMS_EPS)
    writer.add_vocab_size(len(vocab.tokens))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(vocab.tokens)
    writer.add_token_scores(vocab.scores)
    writer.add_token_types(vocab.types)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    configure(writer)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * WEIGHT_SCALE / np.sqrt(shape[-1])).astype(np.float32)

    head_dim = n_embd // n_heads
    n_vocab = len(vocab.tokens)
    writer.add_tensor("token_embd.weight", (rng.standard_normal((n_vocab, n_embd))).astype(np.float32))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", weight(n_vocab, n_embd) * np.float32(np.sqrt(n_embd)))
    for layer in range(shape.n_layers):
        prefix = f"blk.{layer}"
        writer.add_tensor(f"{prefix}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"{prefix}.attn_q.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"{prefix}.attn_k.weight", weight(n_heads_kv * head_dim, n_embd))
        writer.add_tensor(f"{prefix}.attn_v.weight", weight(n_heads_kv * head_dim, n_embd))
        writer.add_tensor(f"{prefix}.attn_output.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"{prefix}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"{prefix}.ffn_gate.weight", weight(shape.n_ff, n_embd))
        writer.add_tensor(f"{prefix}.ffn_up.weight", weight(shape.n_ff, n_embd))
        writer.add_tensor(f"{prefix}.ffn_down.weight", weight(n_embd, shape.n_ff))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def build_orpheus_gguf(
    path: Path,
    *,
    seed: int = 0,
    n_ctx_train: int = 4096,
    shape: ModelShape = TINY,
    custom_token_offset: int = ORPHEUS_CUSTOM_TOKEN_OFFSET,
    words: tuple[str, ...] = (),
) -> Path:
    """An Orpheus-like model: Llama-3 style specials and all `<custom_token_N>` at an odd offset
    (``custom_token_offset``, which must leave room for the text pieces); ``words`` (voice names,
    say) get pieces of their own, as a real fine-tune's tokenizer has."""
    vocab = _Vocab([], [], [])
    unk = vocab.add("<unk>", T.UNKNOWN)
    bos = vocab.add("<|begin_of_text|>", T.CONTROL)
    eos = vocab.add("<|end_of_text|>", T.CONTROL)
    eot = vocab.add("<|eot_id|>", T.CONTROL)
    _text_pieces(vocab, words)
    if len(vocab.tokens) > custom_token_offset:
        raise ValueError(
            f"custom_token_offset {custom_token_offset} is below the {len(vocab.tokens)} text tokens"
        )
    while len(vocab.tokens) < custom_token_offset:
        vocab.add(f"<unused_{len(vocab.tokens)}>", T.UNUSED)
    for n in range(N_CUSTOM_TOKENS):
        vocab.add(custom_token_text(n), T.CONTROL)

    def configure(writer: gguf.GGUFWriter) -> None:
        writer.add_unk_token_id(unk)
        writer.add_bos_token_id(bos)
        writer.add_eos_token_id(eos)
        writer.add_eot_token_id(eot)
        writer.add_pad_token_id(eos)

    return _write(path, vocab, seed=seed, n_ctx_train=n_ctx_train, configure=configure, shape=shape)


def build_chat_gguf(path: Path, *, seed: int = 0, n_ctx_train: int = 4096) -> Path:
    """A Gemma-like chat model with Gemma 2's chat template; it has no Orpheus tokens."""
    vocab = _Vocab([], [], [])
    pad = vocab.add("<pad>", T.CONTROL)
    eos = vocab.add("<eos>", T.CONTROL)
    bos = vocab.add("<bos>", T.CONTROL)
    unk = vocab.add("<unk>", T.UNKNOWN)
    vocab.add("<start_of_turn>", T.CONTROL)
    end_of_turn = vocab.add("<end_of_turn>", T.CONTROL)
    _text_pieces(vocab)

    def configure(writer: gguf.GGUFWriter) -> None:
        writer.add_pad_token_id(pad)
        writer.add_eos_token_id(eos)
        writer.add_bos_token_id(bos)
        writer.add_unk_token_id(unk)
        writer.add_eot_token_id(end_of_turn)
        writer.add_chat_template(GEMMA_CHAT_TEMPLATE)

    return _write(path, vocab, seed=seed, n_ctx_train=n_ctx_train, configure=configure, shape=TINY)
