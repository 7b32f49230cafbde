"""What the voice tests share: long enough recordings of real (espeak-ng) speech, a random-weight
SNAC encoder (the real encoder's code path, random weights), and voices made of random frames."""

from __future__ import annotations

import functools
import zlib

import numpy as np

from coordinator.orpheus.clone import ClonedVoice, ReferenceSample
from coordinator.orpheus.codes import codebooks_to_frames
from coordinator.orpheus.layout import FRAME_TOKENS
from tests.rig.audio_samples import silence, spoken

FOX = "The quick brown fox jumps over the lazy dog."
LONG_FOX = "The quick brown fox jumps over the lazy dog, and then it runs into the forest to hide."
WEATHER = "What is the weather like today?"
SHORT = "What time is it?"
KITCHEN = "Turn on the kitchen lights, please."
GAP_S = 0.3  # between sentences, as a speaker pauses


def sentences(*texts: str) -> tuple[np.ndarray, int]:
    """``texts`` spoken one after another with short pauses: float32 mono and its rate."""
    pieces = []
    rate = 0
    for text in texts:
        samples, rate = spoken(text)
        pieces += [samples, silence(GAP_S, rate)]
    return np.concatenate(pieces[:-1]), rate


@functools.cache
def _snac():  # type: ignore[no-untyped-def]
    import torch
    from snac import SNAC

    from tests.rig.snac_checkpoint import SNAC_24KHZ_CONFIG

    torch.manual_seed(0)
    return SNAC(**SNAC_24KHZ_CONFIG).eval()


def snac_encode(audio: np.ndarray) -> np.ndarray:
    """24 kHz mono float32 → (F, 7) Orpheus frames, by a random-weight SNAC's encoder."""
    import torch

    with torch.inference_mode():
        codes = _snac().encode(torch.from_numpy(np.ascontiguousarray(audio, np.float32)).reshape(1, 1, -1))
    c0, c1, c2 = (code.reshape(-1).numpy() for code in codes)
    return codebooks_to_frames(c0, c1, c2)


def random_voice(
    voice_id: str, name: str, *, created_at: int = 1_700_000_000, samples: int = 1
) -> ClonedVoice:
    rng = np.random.default_rng(zlib.crc32(voice_id.encode()))
    references = tuple(
        ReferenceSample(
            f"sample {i} of {name}", rng.integers(0, 4096, (12 + i, FRAME_TOKENS), dtype=np.int64)
        )
        for i in range(samples)
    )
    return ClonedVoice(id=voice_id, name=name, samples=references, created_at=created_at)


def audio_for(voice: ClonedVoice) -> list[np.ndarray]:
    """A normalised recording per sample (what the store keeps beside the frames)."""
    return [np.full(2400 * (i + 1), 0.1, np.float32) for i in range(len(voice.samples))]
