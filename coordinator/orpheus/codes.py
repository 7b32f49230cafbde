"""Orpheus audio tokens → SNAC codes → the three SNAC codebooks, and back.

Code 0 is a valid code. The reference decoders keep only ``code > 0``, which drops it and shifts
every later frame; here validity is exactly ``0 <= code <= MAX_CODE``.
"""

from __future__ import annotations

import numpy as np

from coordinator.errors import GenerationError, InvalidCodesError
from coordinator.orpheus.layout import (
    AUDIO_TOKEN_BASE,
    CODEBOOK_SIZE,
    CODEBOOK_SLOTS,
    CODES_PER_FRAME,
    FRAME_TOKENS,
    MAX_CODE,
)
from coordinator.orpheus.vocab import OrpheusVocab

CODEBOOK_NAMES = ("c0", "c1", "c2")


def audio_code(n: int, position: int) -> int:
    """Code carried by `<custom_token_N>` at audio position ``position`` (may be out of range)."""
    return n - AUDIO_TOKEN_BASE - (position % FRAME_TOKENS) * CODEBOOK_SIZE


def is_valid_code(code: int) -> bool:
    return 0 <= code <= MAX_CODE


class FrameAssembler:
    """Turns the audio tokens of one utterance into complete 7-code frames."""

    def __init__(self, vocab: OrpheusVocab) -> None:
        self._custom_n = vocab.custom_n
        self._frame = np.empty(FRAME_TOKENS, dtype=np.int64)
        self.position = 0  # audio tokens accepted so far

    @property
    def partial_tokens(self) -> int:
        """Tokens of an unfinished trailing frame (dropped if the utterance ends now)."""
        return self.position % FRAME_TOKENS

    def add(self, token_id: int) -> np.ndarray | None:
        """Accept the next audio token; return the frame it completes, if any."""
        n = int(self._custom_n[token_id]) if 0 <= token_id < len(self._custom_n) else -1
        code = audio_code(n, self.position)
        if n < 0 or not is_valid_code(code):
            # Sampling is constrained to each position's slice, so this means a broken engine.
            raise GenerationError(f"token {token_id} is not a valid audio token at position {self.position}")
        slot = self.position % FRAME_TOKENS
        self._frame[slot] = code
        self.position += 1
        return self._frame.copy() if slot == FRAME_TOKENS - 1 else None


def frames_to_codebooks(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F, 7) frames → codebooks of F, 2F and 4F codes, in time order."""
    frames = np.asarray(frames, dtype=np.int64).reshape(-1, FRAME_TOKENS)
    c0, c1, c2 = (frames[:, list(slots)].reshape(-1) for slots in CODEBOOK_SLOTS)
    return c0, c1, c2


def codebooks_to_frames(c0: np.ndarray, c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """Inverse of frames_to_codebooks, validating shapes, types and ranges."""
    arrays = (np.asarray(c0), np.asarray(c1), np.asarray(c2))
    for name, array in zip(CODEBOOK_NAMES, arrays):
        if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
            raise InvalidCodesError(
                f"{name} must be a 1-D integer array, got shape {array.shape} of {array.dtype}"
            )
    n_frames = len(arrays[0])
    if n_frames == 0:
        raise InvalidCodesError("c0 is empty: the file holds no frames")
    for name, array, per_frame in zip(CODEBOOK_NAMES, arrays, CODES_PER_FRAME):
        if len(array) != per_frame * n_frames:
            raise InvalidCodesError(
                f"{name} has {len(array)} codes but {n_frames} frames need {per_frame * n_frames} "
                f"(c0: F, c1: 2F, c2: 4F)"
            )
        bad = np.flatnonzero((array < 0) | (array > MAX_CODE))
        if bad.size:
            raise InvalidCodesError(
                f"{name}[{bad[0]}] = {array[bad[0]]} is outside the valid codes 0..{MAX_CODE}"
            )
    frames = np.empty((n_frames, FRAME_TOKENS), dtype=np.int64)
    for array, slots in zip(arrays, CODEBOOK_SLOTS):
        frames[:, list(slots)] = array.astype(np.int64).reshape(n_frames, len(slots))
    return frames
