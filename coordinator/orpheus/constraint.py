"""Constrained decoding for Orpheus: no malformed frame can ever reach SNAC.

Audio position i may only produce a token of its own 4096-code slice, and the utterance may only
end at a frame boundary, after at least one frame. The engine asks ``allowed()`` before every
sample and reports the chosen token with ``accept()``.
"""

from __future__ import annotations

import numpy as np

from coordinator.orpheus.layout import FRAME_TOKENS
from coordinator.orpheus.vocab import OrpheusVocab

MIN_FRAMES_BEFORE_STOP = 1


class AudioTokenConstraint:
    def __init__(self, vocab: OrpheusVocab) -> None:
        # Precomputed per slot, so a step costs one lookup and no allocation.
        self._mid_frame = [np.ascontiguousarray(vocab.slot_ids[s]) for s in range(FRAME_TOKENS)]
        self._at_boundary = np.concatenate([vocab.slot_ids[0], vocab.stop_ids])
        self._stop_ids = frozenset(int(t) for t in vocab.stop_ids)
        self.position = 0

    def allowed(self) -> np.ndarray:
        slot = self.position % FRAME_TOKENS
        if slot == 0 and self.position >= MIN_FRAMES_BEFORE_STOP * FRAME_TOKENS:
            return self._at_boundary
        return self._mid_frame[slot]

    def accept(self, token_id: int) -> None:
        if token_id not in self._stop_ids:
            self.position += 1
