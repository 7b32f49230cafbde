"""A raw stream's recording (service/recording.py): the budget counted before any conversion,
every width and channel count read as the same mono samples. Wyoming's transcription port feeds
it (tests/wyoming/test_asr.py drives it through the port)."""

from dataclasses import dataclass

import numpy as np
import pytest

from coordinator.errors import InvalidInputError
from coordinator.service import recording as recording_module
from coordinator.service.recording import AudioBudget, Recording, pcm_to_mono
from coordinator.stt.transcript import SAMPLE_RATE

CHUNK_SAMPLES = 1024  # Home Assistant sends its microphone in chunks of this order
# What the resampler holds back of a stream's end (its filter's delay): at most this many samples.
RESAMPLER_TAIL = 64


@dataclass
class Chunk:
    """A chunk as any door parses it (Wyoming's AudioChunk carries the same fields)."""

    rate: int
    width: int
    channels: int
    audio: bytes


def test_the_budget_counts_the_clients_own_samples_before_converting_them(monkeypatch):
    """At 1 Hz, 1.8 KB of audio became 787 MB once resampled: the budget must refuse a chunk
    before any work is done on it, counted at the client's rate."""
    converted = []
    monkeypatch.setattr(
        recording_module,
        "pcm_to_mono",
        lambda audio, *a: converted.append(len(audio)) or pcm_to_mono(audio, *a),
    )
    budget = AudioBudget(0.5)
    first = Recording(None, 8000, budget)
    first.add(Chunk(rate=8000, width=1, channels=1, audio=bytes(4000)))  # exactly 0.5 s
    with pytest.raises(InvalidInputError, match="limit of 0.5 s .MAX_AUDIO_SECONDS"):
        first.add(Chunk(rate=8000, width=1, channels=1, audio=bytes(8)))
    assert converted == [4000]
    # The connection's next recording shares the budget until the first one is given back.
    second = Recording(None, 48000, budget)
    with pytest.raises(InvalidInputError, match="MAX_AUDIO_SECONDS"):
        second.add(Chunk(rate=48000, width=2, channels=2, audio=bytes(4)))
    budget.give_back(first.seconds)
    second.add(Chunk(rate=48000, width=2, channels=2, audio=bytes(24000 * 4)))
    assert budget.held == pytest.approx(0.5)


def test_every_width_reads_as_the_same_signed_samples():
    reference = np.array([0, 0.5, -0.5, -1.0, 0.25], np.float32)
    for width in (1, 2, 3, 4):
        full_scale = 2 ** (8 * width - 1)
        raw = b"".join(int(v * full_scale).to_bytes(width, "little", signed=True) for v in reference)
        assert np.array_equal(pcm_to_mono(raw, width, 1), reference), width


def test_channels_are_averaged_so_loud_stereo_stays_within_full_scale():
    left, right = [0.5, -1.0, -1.0], [0.25, 0.5, -1.0]
    stereo = (np.array([left, right]).T.reshape(-1) * 32768).astype("<i2").tobytes()
    assert np.array_equal(pcm_to_mono(stereo, 2, 2), np.array([0.375, -0.25, -1.0], np.float32))


@pytest.mark.parametrize("channels", [2, 8])
def test_a_multichannel_stream_comes_out_as_long_as_the_mono_one(channels):
    """8 channels came out 4 times as long through the package's converter."""
    rate = 48_000
    mono = (np.random.default_rng(0).uniform(-0.5, 0.5, rate) * 32767).astype("<i2")
    recordings = {}
    for count in (1, channels):
        pcm = np.repeat(mono, count).tobytes()
        recording = Recording(None, rate, AudioBudget(10))
        step = CHUNK_SAMPLES * 2 * count
        for offset in range(0, len(pcm), step):
            recording.add(Chunk(rate=rate, width=2, channels=count, audio=pcm[offset : offset + step]))
        recordings[count] = recording.take_samples()
    assert np.array_equal(recordings[channels], recordings[1])
    assert SAMPLE_RATE - RESAMPLER_TAIL <= recordings[channels].size <= SAMPLE_RATE  # one second
