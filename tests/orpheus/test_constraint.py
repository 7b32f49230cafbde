import numpy as np

from coordinator.orpheus.constraint import AudioTokenConstraint
from coordinator.orpheus.layout import FRAME_TOKENS


def test_each_position_allows_only_its_own_slice_and_stop_only_at_frame_boundaries(fake_vocab):
    constraint = AudioTokenConstraint(fake_vocab)
    stops = set(fake_vocab.stop_ids.tolist())
    for position in range(3 * FRAME_TOKENS + 1):
        allowed = constraint.allowed()
        slot = position % FRAME_TOKENS
        audio = set(fake_vocab.slot_ids[slot].tolist())
        may_stop = slot == 0 and position > 0
        assert set(allowed.tolist()) == (audio | stops if may_stop else audio)
        constraint.accept(int(allowed[position % len(allowed) if not may_stop else 0]))
    assert constraint.position == 3 * FRAME_TOKENS + 1


def test_a_stop_token_does_not_advance_the_position(fake_vocab):
    constraint = AudioTokenConstraint(fake_vocab)
    for slot in range(FRAME_TOKENS):
        constraint.accept(int(fake_vocab.slot_ids[slot, 0]))
    constraint.accept(fake_vocab.end_of_speech)
    assert constraint.position == FRAME_TOKENS
    assert np.isin(fake_vocab.stop_ids, constraint.allowed()).all()
