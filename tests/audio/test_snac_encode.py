"""SNAC's encoder: a custom voice's reference samples → frames in Orpheus' layout, and back."""

import threading

import numpy as np
import pytest

from coordinator.audio.decode_scheduler import DecodeScheduler
from coordinator.audio.format import SAMPLE_RATE, SAMPLES_PER_FRAME
from coordinator.orpheus.layout import FRAME_TOKENS, MAX_CODE

SECONDS = 1.3  # not a whole number of frames: the encoder pads the end to one


@pytest.fixture(scope="module")
def speech_like():
    t = np.arange(int(SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    return (tone + 0.01 * np.random.default_rng(0).standard_normal(len(t))).astype(np.float32)


def test_encode_gives_whole_frames_of_valid_codes(codec, speech_like):
    frames = codec.encode(speech_like)
    expected = -(-len(speech_like) // SAMPLES_PER_FRAME)
    assert frames.shape == (expected, FRAME_TOKENS) and frames.dtype == np.int64
    assert frames.min() >= 0 and frames.max() <= MAX_CODE


def test_decoding_the_encoded_frames_gives_audio_of_the_frames_length(codec, speech_like):
    frames = codec.encode(speech_like)
    audio = codec.decode(frames)
    assert audio.shape == (len(frames) * SAMPLES_PER_FRAME,) and np.isfinite(audio).all()
    # The layouts agree: encoding is deterministic, and the same samples give the same frames.
    assert np.array_equal(codec.encode(speech_like), frames)


def test_encode_refuses_what_is_not_mono_samples(codec):
    with pytest.raises(ValueError, match="1-D"):
        codec.encode(np.zeros((2, 100), dtype=np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        codec.encode(np.zeros(0, dtype=np.float32))


def test_call_runs_on_the_decode_thread_and_passes_errors_back(codec, speech_like):
    with DecodeScheduler(codec, batch_frames=64, name="enc") as snac:
        frames = snac.call(lambda: codec.encode(speech_like)).result(timeout=60)
        assert snac.call(lambda: threading.current_thread().name).result(timeout=60) == "enc-decoder"
        window = snac.submit(frames, 0, len(frames)).result(timeout=60)
        assert window.shape == (len(frames) * SAMPLES_PER_FRAME,)
        with pytest.raises(ValueError, match="1-D"):
            snac.call(lambda: codec.encode(np.zeros((2, 2), dtype=np.float32))).result(timeout=60)
    with pytest.raises(RuntimeError, match="shut down"):
        snac.call(lambda: None)
