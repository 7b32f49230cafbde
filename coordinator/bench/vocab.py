"""The tokenizers of the random-weight models (``synthetic``): SentencePiece vocabularies with byte
fallback and control tokens, Orpheus's (Llama 3 specials and every `<custom_token_N>`) and Gemma's,
at the released ids or at the tests' odd offsets, and Gemma 2's chat template."""

from __future__ import annotations

import string
from dataclasses import dataclass

import gguf

from coordinator.bench.shapes import (
    GEMMA_SPECIAL_IDS,
    GEMMA_VOCAB,
    LLAMA3_SPECIAL_IDS,
    ORPHEUS_CUSTOM_TOKEN_OFFSET,
    ORPHEUS_VOCAB,
)
from coordinator.orpheus.layout import N_CUSTOM_TOKENS, custom_token_text

# The tests' Orpheus-like model puts <custom_token_0> here; the released model has 128256.
TINY_CUSTOM_TOKEN_OFFSET = 777
# The tests' model standing for the pretrained (cloning) Orpheus has its own offset, so that code
# mixing up the two models' token ids fails.
TINY_PRETRAINED_CUSTOM_TOKEN_OFFSET = 1001
MAX_PIECE_SCORE = 16  # scores are length - 16: negative, longer is better
SENTENCE_EVERY = 8  # a random chat model's sentences: about this many words (see _fill_with_words)

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
class Vocab:
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


def _text_pieces(vocab: Vocab, words: tuple[str, ...] = ()) -> None:
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
class VocabSpec:
    vocab: Vocab
    ids: dict[str, int]  # unk, bos, eos, eot, pad, ...


def orpheus_vocab(
    *, real_ids: bool, custom_token_offset: int = TINY_CUSTOM_TOKEN_OFFSET, words: tuple[str, ...] = ()
) -> VocabSpec:
    """Llama 3 specials and every `<custom_token_N>`; at the released ids with ``real_ids``, else
    from ``custom_token_offset`` (several test models at several offsets, as fine-tunes could be)."""
    vocab = Vocab([], [], [])
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
    return VocabSpec(vocab, ids)


def _fill_with_words(vocab: Vocab, size: int) -> None:
    """Pad the vocabulary with plain words, every SENTENCE_EVERY-th ending a sentence: a random chat
    model then says speakable text in sentences of about that many words, so /chat has something
    to speak (unused tokens would detokenize to nothing)."""
    while len(vocab.tokens) < size:
        n = len(vocab.tokens)
        vocab.add(f"▁w{n}" + ("." if n % SENTENCE_EVERY == 0 else ""), score=float(-MAX_PIECE_SCORE))


def gemma_vocab(*, real_ids: bool, words_to: int | None = None) -> VocabSpec:
    """Gemma's specials; at the released ids, in a vocabulary of the released size, with ``real_ids``.
    ``words_to``: pad with plain words to that size (the released size with ``real_ids``)."""
    vocab = Vocab([], [], [])
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
    return VocabSpec(vocab, ids)
