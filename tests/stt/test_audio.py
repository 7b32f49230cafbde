"""Uploads decoded by FFmpeg into 16 kHz mono float32, and hostile uploads refused."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from coordinator.errors import CancelledError, InvalidInputError
from coordinator.stt.audio import (
    MAX_CHANNELS,
    MAX_INPUT_SAMPLES_PER_SECOND,
    MIN_SAMPLE_RATE,
    InvalidAudioError,
    PcmResampler,
    decode_audio,
    pcm16_to_float,
)
from coordinator.stt.isolated import decode_isolated
from tests.rig.audio_samples import CONTAINERS, encode
from tests.rig.hostile_audio import flac, peak_memory_decoder, wav

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


# Hostile uploads (issue 21): each answered with a clear refusal or decoded right, in bounded
# memory, and the decoder works for the next file.

GOOD = encode(_tone(1.0, RATE), RATE, "wav")


def _good_decode_still_works() -> None:
    assert decode_isolated(GOOD, max_seconds=10).size == RATE


def test_the_110_byte_8_channel_flac_that_crashed_the_server_decodes():
    data = flac(channels=8, rate=RATE, block=1024, frames=2)
    assert len(data) == 110
    # In the decoder process: were it to crash again, this is a failed assertion, not a dead run.
    samples = decode_isolated(data, max_seconds=10)
    assert samples.size == 2048 and not samples.any()
    _good_decode_still_works()


def test_eight_channels_are_averaged_in_their_order():
    import io

    import soundfile as sf

    levels = np.arange(1, 9, dtype=np.float32) / 10  # channel c holds (c + 1) / 10
    buffer = io.BytesIO()
    sf.write(buffer, np.tile(levels, (RATE // 4, 1)), RATE, format="WAV", subtype="FLOAT")
    samples = decode_isolated(buffer.getvalue(), max_seconds=10)
    assert samples.size == RATE // 4
    assert np.allclose(samples, levels.mean(), atol=1e-6)


@pytest.mark.parametrize("channels", [9, 16, 64])
def test_more_than_eight_channels_are_refused_naming_the_limit(channels):
    data = wav(channels=channels, rate=RATE, frames=RATE // 10)
    with pytest.raises(InvalidAudioError) as error:
        decode_isolated(data, max_seconds=10)
    assert f"{channels} audio channels" in error.value.message and str(MAX_CHANNELS) in error.value.message
    _good_decode_still_works()


def _peak(data: bytes, *, max_seconds: float = 1800) -> tuple[bool, float]:
    """Whether decode_audio refused ``data``, and how much the peak memory of the (fresh) decoder
    process grew meanwhile, in MiB."""
    refused, growth_kib = decode_isolated(data, max_seconds=max_seconds, decoder=peak_memory_decoder)
    return bool(refused), growth_kib / 1024


BOMBS = {
    # One 8192-sample FLAC frame at 1 Hz: 2 hours, 60 bytes; 16,000× its size once resampled.
    "flac at 1 Hz": flac(channels=1, rate=1, block=8192, frames=1),
    # 8-bit PCM at 1 Hz whose blocks are 4096 bytes: 4096 samples a block, each 1 s.
    "wav at 1 Hz": wav(channels=1, rate=1, frames=1, bits=8, block_align=4096),
    # A good first frame, then frames claiming 1 Hz each.
    "flac turning 1 Hz": flac(channels=1, rate=RATE, block=8192, frames=4, frame_rates=(None, 1, 1, 1)),
    "wav at 1 GHz": wav(channels=1, rate=10**9, frames=16),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_low_and_high_sample_rates_are_refused_before_anything_is_resampled(name):
    with pytest.raises(InvalidAudioError) as error:
        decode_isolated(BOMBS[name], max_seconds=1800)
    assert "sample rate" in error.value.message and "Hz" in error.value.message
    refused, growth_mib = _peak(BOMBS[name])
    assert refused and growth_mib < 200  # before: +3.7 GB for the FLAC, +1.8 GB for the WAV
    _good_decode_still_works()


def test_audio_past_the_cap_is_refused_before_its_last_frame_is_resampled():
    # 4 kHz (the lowest rate taken) in the longest FLAC frames: 16 s a frame, 4× once resampled.
    data = flac(channels=1, rate=MIN_SAMPLE_RATE, block=65_535, frames=200)  # 54 minutes, 6 KB
    with pytest.raises(InvalidInputError) as error:
        decode_isolated(data, max_seconds=60)
    assert "MAX_AUDIO_SECONDS" in error.value.message
    refused, growth_mib = _peak(data, max_seconds=60)
    assert refused and growth_mib < 50  # 60 s at 16 kHz is 4 MB of float32
    _good_decode_still_works()


def test_more_samples_than_the_duration_allows_are_refused():
    # 8 channels at 96 kHz: 768,000 samples a second, twice what a second may hold.
    data = flac(channels=8, rate=96_000, block=65_535, frames=8)  # 5.5 s
    with pytest.raises(InvalidInputError) as error:
        decode_isolated(data, max_seconds=10)
    assert "more samples" in error.value.message and str(MAX_INPUT_SAMPLES_PER_SECOND) in error.value.message
    assert decode_isolated(data, max_seconds=30).size == pytest.approx(8 * 65_535 / 6, abs=RATE)


def test_a_set_stop_event_ends_the_decode_at_the_next_frame():
    stop = threading.Event()
    stop.set()
    with pytest.raises(CancelledError):
        decode_audio(GOOD, max_seconds=10, stop=stop)
