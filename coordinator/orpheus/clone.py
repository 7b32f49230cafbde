"""A custom (cloned) voice as the cloning model's prompt needs it: reference recordings as text and
SNAC frames. Pure data: the voice store (coordinator/voices) reads and writes it, the speech
registry resolves a request's voice to it, and the pretrained Orpheus' prompt is built from it.

How Orpheus clones (canopyai/Orpheus-TTS README and its pretrained-model notebook): the pretrained
checkpoint continues a prompt of one or more (transcript, audio) pairs, each framed as a human turn
(the transcript) and an AI turn (the audio as Orpheus audio tokens, 7 per SNAC frame), then the
target text as a human turn; it then speaks the text in the reference voice until end-of-speech.
Read for the layout: canopyai/Orpheus-TTS README ("Zero-Shot Voice Cloning", the "Colab For
Pretrained Model" notebook, set up for conditioned generation), and community zero-shot scripts
that follow the training data's `process_item_zero_shot`:
  start_of_human ref_text eot end_of_human start_of_ai start_of_speech ref_audio end_of_speech
  end_of_ai, then start_of_human target_text eot end_of_human start_of_ai start_of_speech.
Each turn's text starts with BOS as the tokenizer writes it, as in the single-voice prompt
(coordinator/orpheus/prompt.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from coordinator.errors import InvalidCodesError
from coordinator.orpheus.layout import FRAME_TOKENS, MAX_CODE
from coordinator.orpheus.prompt import build_prompt
from coordinator.orpheus.vocab import OrpheusVocab

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


# Control tokens around a human turn's text (build_prompt): start_of_human, BOS, then eot,
# end_of_human, start_of_ai, start_of_speech; and after the reference audio, end_of_speech, end_of_ai.
_TURN_TOKENS = 6
_AUDIO_END_TOKENS = 2
# One reference pair for the prompt: the transcript's token ids (without BOS) and its frames (F, 7).
Reference = tuple[Sequence[int], np.ndarray]


def audio_token_ids(vocab: OrpheusVocab, frames: np.ndarray) -> list[int]:
    """Frames ``(F, 7)`` of codes → the model's audio token ids, 7 per frame, in order: the
    inverse of what the frame assembler reads (coordinator/orpheus/codes.py)."""
    codes = np.asarray(frames, dtype=np.int64)
    if codes.ndim != 2 or codes.shape[1] != FRAME_TOKENS:
        raise InvalidCodesError(f"reference frames must have shape (F, {FRAME_TOKENS}), got {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() > MAX_CODE):
        raise InvalidCodesError(f"reference frames hold codes outside 0..{MAX_CODE}")
    slots = np.arange(FRAME_TOKENS)[np.newaxis, :]
    return [int(t) for t in vocab.slot_ids[slots, codes].reshape(-1)]


def clone_prefix(vocab: OrpheusVocab, references: Sequence[Reference]) -> list[int]:
    """The reference part of a cloning prompt: every (transcript, audio) pair as a human turn and
    the AI turn that speaks it. The same for every request of one voice, so the engine keeps its
    KV cells between requests (GenerationRequest.keep_prefix)."""
    ids: list[int] = []
    for transcript_ids, frames in references:
        ids += build_prompt(vocab, transcript_ids)
        ids += audio_token_ids(vocab, frames)
        ids += [vocab.end_of_speech, vocab.end_of_ai]
    return ids


def clone_prefix_length(vocab: OrpheusVocab, references: Sequence[Reference]) -> int:
    """How many leading tokens of ``build_clone_prompt`` are the references."""
    return sum(
        len(ids) + len(frames) * FRAME_TOKENS + _AUDIO_END_TOKENS + _TURN_TOKENS for ids, frames in references
    )


def build_clone_prompt(
    vocab: OrpheusVocab, references: Sequence[Reference], text_ids: Sequence[int]
) -> list[int]:
    """The pretrained model's cloning prompt: the references (``clone_prefix``), then the target
    text as a human turn opening the AI's speech, which the model continues in the voice."""
    return clone_prefix(vocab, references) + build_prompt(vocab, text_ids)
