"""A custom voice's recording made ready: every container the transcription route reads, at 24 kHz,
trimmed, loudness-normalised, and every bad recording refused with an error that names the fix.
Real (recorded espeak-ng) speech and the real Silero VAD: no detector is faked."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.errors import InvalidInputError
from coordinator.voices.sample import KEEP_MARGIN_S, PEAK_CEILING, SAMPLE_RATE, TARGET_SPEECH_DBFS, prepare
from tests.rig.audio_samples import CONTAINERS, encode, noise_bursts, silence
from tests.voices.rig import FOX, LONG_FOX, SHORT, WEATHER, sentences

MIN_S, MAX_S = 3.0, 30.0


def _prepared(samples: np.ndarray, rate: int, fmt: str = "wav", **limits: float):
    return prepare(
        encode(samples, rate, fmt),
        min_s=limits.get("min_s", MIN_S),
        max_s=limits.get("max_s", MAX_S),
        param="audio_sample",
    )


def _refusal(data: bytes, **limits: float) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        prepare(
            data, min_s=limits.get("min_s", MIN_S), max_s=limits.get("max_s", MAX_S), param="audio_sample"
        )
    assert info.value.param == "audio_sample"
    return info.value


def _dbfs(x: np.ndarray) -> float:
    return 20 * float(np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2))))


@pytest.mark.parametrize("fmt", sorted(CONTAINERS))
def test_every_container_the_transcription_route_reads_prepares_the_same_speech(fmt):
    speech, rate = sentences(LONG_FOX)
    reference = _prepared(speech, rate, "flac")
    prepared = _prepared(speech, rate, fmt)
    assert prepared.audio.dtype == np.float32 and prepared.audio.ndim == 1
    # Lossy codecs shift the edges by a frame or two; the speech kept is the same length.
    assert prepared.seconds == pytest.approx(reference.seconds, abs=0.1)
    assert MIN_S <= prepared.seconds <= len(speech) / rate + 0.05


def test_the_recording_is_resampled_to_24_khz_keeping_what_16_khz_would_lose():
    speech, rate = sentences(FOX, WEATHER)
    # 44.1 kHz with a faint 10 kHz tone: above Whisper's 8 kHz band, inside SNAC's 12 kHz.
    high = 44_100
    upsampled = np.interp(
        np.arange(int(len(speech) * high / rate)) / high, np.arange(len(speech)) / rate, speech
    )
    tone = 0.02 * np.sin(2 * np.pi * 10_000 * np.arange(upsampled.size) / high)
    prepared = _prepared((upsampled + tone).astype(np.float32), high)
    assert prepared.seconds == pytest.approx(len(speech) / rate, abs=0.3)
    spectrum = np.abs(np.fft.rfft(prepared.audio))
    freqs = np.fft.rfftfreq(prepared.audio.size, 1 / SAMPLE_RATE)
    near = spectrum[(freqs > 9_950) & (freqs < 10_050)].max()
    around = np.median(spectrum[(freqs > 9_000) & (freqs < 11_000)])
    assert near > 20 * around  # the tone is there: nothing was band-limited to 8 kHz on the way


def test_silence_around_the_speech_is_trimmed():
    speech, rate = sentences(FOX, WEATHER)
    bare = _prepared(speech, rate)
    padded = _prepared(np.concatenate([silence(2.0, rate), speech, silence(3.0, rate)]), rate)
    # The bare take has no room for the margin kept before its first word; the padded one has.
    assert bare.seconds <= padded.seconds <= bare.seconds + 2 * KEEP_MARGIN_S + 0.05
    assert padded.seconds < len(speech) / rate + 2 * KEEP_MARGIN_S + 0.05  # the 5 s of silence are gone


@pytest.mark.parametrize("scale", [0.02, 0.3, 1.0])
def test_loudness_is_normalised_whatever_the_recording_level(scale):
    speech, rate = sentences(FOX, WEATHER)
    prepared = _prepared(np.clip(speech / np.abs(speech).max() * scale, -1, 1).astype(np.float32), rate)
    assert np.abs(prepared.audio).max() <= PEAK_CEILING + 1e-3
    # The speech lands near the target level (the peak ceiling may hold it a little below).
    assert TARGET_SPEECH_DBFS - 8 < _dbfs(prepared.audio) < TARGET_SPEECH_DBFS + 1


def test_a_quiet_and_a_loud_take_come_out_equally_loud():
    speech, rate = sentences(FOX, WEATHER)
    quiet = _prepared((speech * 0.03).astype(np.float32), rate)
    loud = _prepared((speech / np.abs(speech).max() * 0.9).astype(np.float32), rate)
    assert _dbfs(quiet.audio) == pytest.approx(_dbfs(loud.audio), abs=1.0)


def test_too_short_counts_the_speech_not_the_silence_around_it():
    speech, rate = sentences(SHORT)
    padded = np.concatenate([silence(3.0, rate), speech, silence(3.0, rate)])
    error = _refusal(encode(padded, rate, "wav"))
    assert "shorter than the 3 s" in error.message and "VOICE_SAMPLE_MIN_S" in error.message


def test_too_long_once_trimmed_names_the_limit_and_the_fix():
    speech, rate = sentences(LONG_FOX)
    error = _refusal(encode(speech, rate, "wav"), min_s=1.0, max_s=3.0)
    assert "VOICE_SAMPLE_MAX_S" in error.message and "several samples" in error.message


def test_a_recording_far_longer_than_the_limit_is_refused_while_decoding():
    speech, rate = sentences(FOX)
    error = _refusal(encode(np.concatenate([speech, silence(20.0, rate)]), rate, "wav"), min_s=1.0, max_s=3.0)
    assert "VOICE_SAMPLE_MAX_S" in error.message and "MAX_AUDIO_SECONDS" not in error.message


def test_silence_is_refused():
    rate = 16_000
    error = _refusal(encode(silence(5.0, rate), rate, "wav"))
    assert "only silence" in error.message and "microphone" in error.message


@pytest.mark.parametrize("fmt", ["wav", "ogg"])
def test_noise_is_refused(fmt):
    rate = 22_050
    error = _refusal(encode(noise_bursts(rate, bursts=8), rate, fmt), min_s=1.0)
    assert "speech" in error.message and "one person speaking" in error.message


def test_white_noise_is_refused():
    rate = 24_000
    noise = (0.3 * np.random.default_rng(1).standard_normal(5 * rate)).astype(np.float32)
    error = _refusal(encode(noise, rate, "wav"), min_s=1.0)
    assert "speech" in error.message


def test_speech_lost_in_a_long_noise_is_mostly_not_speech():
    speech, rate = sentences(SHORT)
    noise = noise_bursts(rate, bursts=12, seed=3)
    mixed = np.concatenate([speech, noise, speech]).astype(np.float32)
    error = _refusal(encode(mixed, rate, "wav"), min_s=1.0)
    assert "speech" in error.message


@pytest.mark.parametrize("data", [b"", b"not audio at all, just text", b"RIFF\x00\x00\x00\x00WAVEjunk"])
def test_what_is_not_audio_is_refused_naming_the_formats(data):
    error = _refusal(data)
    assert "wav" in error.message
