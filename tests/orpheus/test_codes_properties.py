"""Properties of the token → code mapping, over any token ids and any vocabulary text."""

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordinator.errors import GenerationError, InvalidCodesError, ModelLoadError
from coordinator.orpheus.codes import FrameAssembler, codebooks_to_frames, frames_to_codebooks
from coordinator.orpheus.layout import (
    CODES_PER_FRAME,
    FRAME_TOKENS,
    MAX_CODE,
    N_CUSTOM_TOKENS,
    custom_token_text,
)
from coordinator.orpheus.vocab import OrpheusVocab

# Deterministic and bounded: the same examples on every run, the file in seconds.
PROPERTY = settings(
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

codes = st.integers(0, MAX_CODE)
any_token_id = st.one_of(st.integers(-(2**70), 2**70), st.integers(-5, 400_000))
token_like_text = st.one_of(
    st.text(max_size=30),
    st.integers(-(10**30), 10**30).map(lambda n: f"<custom_token_{n}>"),
    st.sampled_from(["<|begin_of_text|>", "<|eot_id|>", "<custom_token_>", "<custom_token_٣>"]),
)


@PROPERTY
@given(tokens=st.lists(any_token_id, max_size=60))
def test_any_token_ids_give_complete_frames_of_valid_codes_or_a_generation_error(fake_vocab, tokens):
    assembler = FrameAssembler(fake_vocab)
    for token in tokens:
        try:
            frame = assembler.add(token)
        except GenerationError:
            continue
        if frame is not None:
            assert frame.shape == (FRAME_TOKENS,)
            assert ((frame >= 0) & (frame <= MAX_CODE)).all()
    assert 0 <= assembler.partial_tokens < FRAME_TOKENS


@PROPERTY
@given(frames=st.lists(st.lists(codes, min_size=FRAME_TOKENS, max_size=FRAME_TOKENS), max_size=12))
def test_the_tokens_of_any_codes_map_back_to_exactly_those_codes_in_frames_of_seven(fake_vocab, frames):
    assembler = FrameAssembler(fake_vocab)
    out = []
    for frame in frames:
        for slot, code in enumerate(frame):
            done = assembler.add(int(fake_vocab.slot_ids[slot, code]))
            assert (done is not None) == (slot == FRAME_TOKENS - 1)
            if done is not None:
                out.append(done.tolist())
    assert out == frames
    if frames:
        c0, c1, c2 = frames_to_codebooks(np.array(frames))
        assert [len(c) for c in (c0, c1, c2)] == [n * len(frames) for n in CODES_PER_FRAME]
        assert codebooks_to_frames(c0, c1, c2).tolist() == frames


@PROPERTY
@given(arrays=st.tuples(*[st.lists(st.integers(-(2**40), 2**40), max_size=20) for _ in range(3)]))
def test_any_codebooks_give_valid_frames_or_an_invalid_codes_error(arrays):
    try:
        frames = codebooks_to_frames(*(np.array(a, dtype=np.int64) for a in arrays))
    except InvalidCodesError:
        return
    assert frames.shape[1] == FRAME_TOKENS
    assert ((frames >= 0) & (frames <= MAX_CODE)).all()


@settings(PROPERTY, max_examples=40)
@given(extra=st.lists(token_like_text, max_size=20), where=st.integers(0, 10**6))
def test_any_vocabulary_text_is_read_without_crashing(extra, where):
    # An Orpheus vocabulary with arbitrary tokens added somewhere: still an Orpheus vocabulary.
    texts = ["<unk>", "<|begin_of_text|>", "<|eot_id|>"] + [
        custom_token_text(n) for n in range(N_CUSTOM_TOKENS)
    ]
    texts = texts[: where % len(texts)] + extra + texts[where % len(texts) :]
    vocab = OrpheusVocab.from_token_texts(texts)
    assert ((vocab.custom_n >= -1) & (vocab.custom_n < N_CUSTOM_TOKENS)).all()
    assembler = FrameAssembler(vocab)
    for token_id in range(len(texts) - 40, len(texts)):
        with contextlib.suppress(GenerationError):
            assembler.add(token_id)


@PROPERTY
@given(texts=st.lists(token_like_text, max_size=30))
def test_a_vocabulary_without_orpheus_tokens_is_a_model_load_error(texts):
    with pytest.raises(ModelLoadError):
        OrpheusVocab.from_token_texts(texts)
