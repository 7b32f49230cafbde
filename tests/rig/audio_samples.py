"""Test audio: sentences spoken by espeak-ng, noise bursts and silence, in any container."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

ESPEAK_RATE = 22_050
ESPEAK_TIMEOUT_S = 30
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


def need_espeak() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        pytest.fail("espeak-ng is not installed: apt-get install -y espeak-ng (.ci/run does)")
    return path


def spoken(text: str, *, voice: str = "en") -> tuple[np.ndarray, int]:
    """``text`` spoken by espeak-ng: float32 mono samples and their rate."""
    wav = subprocess.run(
        [need_espeak(), "-v", voice, "--stdout", text],
        check=True,
        capture_output=True,
        timeout=ESPEAK_TIMEOUT_S,
    ).stdout
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
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
