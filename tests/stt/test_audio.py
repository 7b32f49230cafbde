"""Uploads decoded by FFmpeg into 16 kHz mono float32."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.errors import InvalidInputError
from coordinator.stt.audio import InvalidAudioError, PcmResampler, decode_audio, pcm16_to_float
from tests.rig.audio_samples import CONTAINERS, encode

RATE = 16_000


def _tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize("fmt", sorted(CONTAINERS))
def test_every_container_becomes_16_khz_mono_float_of_the_same_length(fmt):
    samples = decode_audio(encode(_tone(1.0, 44_100), 44_100, fmt), max_seconds=10)
    assert samples.dtype == np.float32 and samples.ndim == 1
    # Lossy codecs pad a frame or two at the ends.
    assert samples.size / RATE == pytest.approx(1.0, abs=0.08)
    assert 0.3 < np.abs(samples).max() <= 1.1  # a lossy codec may overshoot a little


def test_stereo_is_downmixed():
    import io

    import soundfile as sf

    left = _tone(0.5, RATE)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([left, left], axis=1), RATE, format="WAV")
    samples = decode_audio(buffer.getvalue(), max_seconds=10)
    assert samples.size == left.size
    assert np.allclose(samples, left, atol=1e-3)


def test_audio_past_the_cap_is_refused_naming_the_limit():
    with pytest.raises(InvalidInputError) as error:
        decode_audio(encode(_tone(2.0, RATE), RATE, "flac"), max_seconds=1.0)
    assert "MAX_AUDIO_SECONDS" in error.value.message and error.value.param == "file"


@pytest.mark.parametrize(
    "data", [b"", b"not audio at all" * 100, b"RIFF\x00\x00\x00\x00WAVEjunk", bytes(range(256)) * 8]
)
def test_what_is_not_audio_is_an_invalid_audio_error(data):
    with pytest.raises(InvalidAudioError):
        decode_audio(data, max_seconds=10, param="audio")


def test_pcm16_and_the_streaming_resampler():
    pcm = (np.array([0, 16384, -32768, 32767], dtype="<i2")).tobytes()
    assert pcm16_to_float(pcm).tolist() == [0.0, 0.5, -1.0, 32767 / 32768]
    with pytest.raises(InvalidInputError):
        pcm16_to_float(b"\x00")
    resampler = PcmResampler(48_000)
    tone = _tone(1.0, 48_000)
    out = np.concatenate([resampler.process(tone[i : i + 4800]) for i in range(0, tone.size, 4800)])
    assert out.size / RATE == pytest.approx(1.0, abs=0.02)
    assert PcmResampler(RATE).process(tone) is tone
