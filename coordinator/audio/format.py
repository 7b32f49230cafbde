"""The audio the server produces: 24 kHz mono, 2048 samples per Orpheus frame, 16-bit PCM out."""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 24_000
SNAC_HOP_LENGTH = 512
# Codebook 2 runs at 4 codes per Orpheus frame, one per hop.
SNAC_HOPS_PER_FRAME = 4
SAMPLES_PER_FRAME = SNAC_HOP_LENGTH * SNAC_HOPS_PER_FRAME  # 2048 samples = 85.3 ms
CHANNELS = 1
PCM16_FULL_SCALE = 32767


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] → int16. SNAC ends in tanh, so the clip only guards the cast."""
    return (np.clip(samples, -1.0, 1.0) * PCM16_FULL_SCALE).round().astype(np.int16)


def frames_to_seconds(frames: int) -> float:
    return frames * SAMPLES_PER_FRAME / SAMPLE_RATE
