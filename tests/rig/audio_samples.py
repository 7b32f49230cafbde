"""Test audio: recorded sentences (espeak-ng's, replayed from tests/rig/speech/), noise bursts and
silence, in any container."""

from __future__ import annotations

import functools
import io
import json

import numpy as np
import pytest
import soundfile as sf

from tests.rig.make_speech_fixtures import MANIFEST, REGENERATE, SPEECH_DIR

# container format, codec, file suffix: what browsers and phones record, and what people upload.
CONTAINERS = {
    "wav": ("wav", "pcm_s16le"),
    "mp3": ("mp3", "libmp3lame"),
    "ogg": ("ogg", "libopus"),
    "webm": ("webm", "libopus"),
    "m4a": ("ipod", "aac"),
    "flac": ("flac", "flac"),
}
OPUS_RATE = 48_000


@functools.cache
def _recorded() -> dict[tuple[str, str], str]:
    """(text, voice) -> file name in SPEECH_DIR, from the manifest."""
    entries = json.loads(MANIFEST.read_text())["sentences"]
    return {(entry["text"], entry["voice"]): entry["file"] for entry in entries}


def spoken(text: str, *, voice: str = "en") -> tuple[np.ndarray, int]:
    """``text`` spoken by espeak-ng (recorded, so no system program runs): float32 mono samples
    and their rate."""
    name = _recorded().get((text, voice))
    if name is None:
        pytest.fail(
            f"no recorded speech for {text!r} (voice {voice}): add it to SENTENCES in "
            f"tests/rig/make_speech_fixtures.py and run {REGENERATE} (needs espeak-ng)"
        )
    samples, rate = sf.read(SPEECH_DIR / name, dtype="float32")
    return samples.reshape(-1), rate


def noise_bursts(
    rate: int, *, bursts: int = 3, burst_s: float = 0.4, gap_s: float = 0.3, seed: int = 0
) -> np.ndarray:
    """Speech-like noise: bursts of band-limited noise with a syllable-rate envelope, and gaps."""
    rng = np.random.default_rng(seed)
    pieces = []
    for _ in range(bursts):
        n = int(burst_s * rate)
        noise = np.convolve(rng.standard_normal(n), np.ones(8) / 8, mode="same")
        envelope = np.abs(np.sin(np.linspace(0, 4 * np.pi, n)))
        pieces += [(0.3 * noise * envelope).astype(np.float32), np.zeros(int(gap_s * rate), np.float32)]
    return np.concatenate(pieces)


def silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.float32)


def encode(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    """Mono float32 ``samples`` as a file of format ``fmt`` (a key of CONTAINERS), by FFmpeg."""
    import av

    container_name, codec = CONTAINERS[fmt]
    buffer = io.BytesIO()
    out_rate = OPUS_RATE if codec == "libopus" else rate
    with av.open(buffer, mode="w", format=container_name) as container:
        stream = container.add_stream(codec, rate=out_rate, layout="mono")
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=out_rate)
        frame = av.AudioFrame.from_ndarray(
            samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono"
        )
        frame.sample_rate = rate
        frame.pts = 0
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
