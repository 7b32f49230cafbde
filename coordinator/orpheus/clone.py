"""A custom (cloned) voice as the cloning model's prompt needs it: reference recordings as text and
SNAC frames. Pure data: the voice store (coordinator/voices) reads and writes it, the speech
registry resolves a request's voice to it, and the pretrained Orpheus' prompt is built from it.

How Orpheus clones (canopyai/Orpheus-TTS README and its pretrained-model notebook): the pretrained
checkpoint continues a prompt of one or more (transcript, audio) pairs, each framed as a human turn
(the transcript) and an AI turn (the audio as Orpheus audio tokens, 7 per SNAC frame), then the
target text as a human turn; it then speaks the text in the reference voice until end-of-speech.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coordinator.orpheus.layout import FRAME_TOKENS

# SNAC 24 kHz: one frame (7 codes) per 2048 samples, about 11.7 frames and 82 tokens a second.
SAMPLES_PER_FRAME = 2048
CLONE_SAMPLE_RATE = 24_000


@dataclass(frozen=True, eq=False)
class ReferenceSample:
    """One recording of a custom voice: what was said, and its SNAC frames ``(F, 7)`` in Orpheus'
    frame layout (coordinator/orpheus/codes.py), codes 0..4095."""

    transcript: str
    frames: np.ndarray

    @property
    def seconds(self) -> float:
        return len(self.frames) * SAMPLES_PER_FRAME / CLONE_SAMPLE_RATE

    @property
    def n_tokens(self) -> int:
        return len(self.frames) * FRAME_TOKENS


@dataclass(frozen=True, eq=False)
class ClonedVoice:
    """A custom voice: its id (``voice_<hex>``, what requests send), the name its creator gave it,
    and its reference samples, in prompt order."""

    id: str
    name: str
    samples: tuple[ReferenceSample, ...]
    created_at: int  # Unix seconds
    language: str = "en"

    @property
    def reference_seconds(self) -> float:
        return sum(sample.seconds for sample in self.samples)
