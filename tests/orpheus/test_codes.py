import numpy as np
import pytest

from coordinator.errors import GenerationError, InvalidCodesError
from coordinator.orpheus.codes import (
    FrameAssembler,
    audio_code,
    codebooks_to_frames,
    frames_to_codebooks,
    is_valid_code,
)
from coordinator.orpheus.layout import AUDIO_TOKEN_BASE, CODEBOOK_SIZE, FRAME_TOKENS, MAX_CODE


def test_audio_code_follows_the_orpheus_formula_at_every_slot():
    for position in range(3 * FRAME_TOKENS):
        slot = position % FRAME_TOKENS
        n = AUDIO_TOKEN_BASE + slot * CODEBOOK_SIZE + 123
        assert audio_code(n, position) == 123


def test_code_zero_and_max_are_valid_and_the_neighbours_are_not():
    assert is_valid_code(0) and is_valid_code(MAX_CODE)
    assert not is_valid_code(-1) and not is_valid_code(CODEBOOK_SIZE)


def _token_for(vocab, slot, code):
    return int(vocab.slot_ids[slot, code])


def test_assembler_keeps_code_zero_and_4095_in_every_slot(fake_vocab):
    assembler = FrameAssembler(fake_vocab)
    frames = []
    for code in (0, MAX_CODE):
        for slot in range(FRAME_TOKENS):
            frame = assembler.add(_token_for(fake_vocab, slot, code))
            if frame is not None:
                frames.append(frame)
    assert [list(f) for f in frames] == [[0] * 7, [MAX_CODE] * 7]
    assert assembler.partial_tokens == 0


def test_assembler_counts_a_partial_trailing_frame(fake_vocab):
    assembler = FrameAssembler(fake_vocab)
    for slot in range(3):
        assert assembler.add(_token_for(fake_vocab, slot, 7)) is None
    assert assembler.partial_tokens == 3


def test_assembler_rejects_a_token_of_the_wrong_slot(fake_vocab):
    assembler = FrameAssembler(fake_vocab)
    with pytest.raises(GenerationError, match="position 0"):
        assembler.add(_token_for(fake_vocab, 1, 5))
    with pytest.raises(GenerationError):
        assembler.add(fake_vocab.bos)


def test_frames_split_into_codebooks_in_the_documented_layout():
    frames = np.array([[0, 1, 2, 3, 4, 5, 6], [10, 11, 12, 13, 14, 15, 16]])
    c0, c1, c2 = frames_to_codebooks(frames)
    assert c0.tolist() == [0, 10]
    assert c1.tolist() == [1, 4, 11, 14]
    assert c2.tolist() == [2, 3, 5, 6, 12, 13, 15, 16]
    assert codebooks_to_frames(c0, c1, c2).tolist() == frames.tolist()


@pytest.mark.parametrize(
    ("c0", "c1", "c2", "message"),
    [
        ([], [], [], "no frames"),
        ([1], [1], [1, 2, 3, 4], "c1 has 1 codes but 1 frames need 2"),
        ([1], [1, 2], [1, 2, 3], "c2 has 3 codes"),
        ([4096], [1, 2], [1, 2, 3, 4], r"c0\[0\] = 4096 is outside the valid codes 0..4095"),
        ([1], [1, -1], [1, 2, 3, 4], r"c1\[1\] = -1"),
        ([1.5], [1, 2], [1, 2, 3, 4], "integer"),
        ([[1]], [1, 2], [1, 2, 3, 4], "1-D"),
    ],
)
def test_codebooks_to_frames_names_what_is_wrong(c0, c1, c2, message):
    def array(values):
        return np.array(values, dtype=np.int64) if values == [] else np.array(values)

    with pytest.raises(InvalidCodesError, match=message):
        codebooks_to_frames(array(c0), array(c1), array(c2))
