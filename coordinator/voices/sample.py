"""A custom voice's recording, made ready to be its reference: any container decoded (the
transcription route's decoder, in a child process), downmixed, resampled to SNAC's 24 kHz, trimmed
of the silence around the speech, loudness-normalised, and checked.

What is refused, each with an InvalidInputError naming the fix: not audio (the decoder's own
errors), too short or too long once trimmed (``min_s``..``max_s``), silence, and sound that is not
speech (noise, music). Speech is told from the rest by Silero VAD (the model faster-whisper ships,
stt/vad.py): an energy threshold cannot tell a fan from a voice, and a voice built on noise would
speak noise.

Why decode at 24 kHz rather than reuse Whisper's 16 kHz: SNAC hears up to 12 kHz; a reference
without 8–12 kHz would teach the cloning model a muffled voice.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass

import numpy as np

from coordinator.errors import InvalidInputError
from coordinator.orpheus.clone import CLONE_SAMPLE_RATE
from coordinator.stt.audio import decode_audio
from coordinator.stt.isolated import decode_isolated
from coordinator.stt.transcript import SAMPLE_RATE as WHISPER_RATE
from coordinator.stt.vad import CONTEXT_SAMPLES, WINDOW_S, WINDOW_SAMPLES, SileroVad, SpeechProbability

logger = logging.getLogger(__name__)

SAMPLE_RATE = CLONE_SAMPLE_RATE
# Silence a recording may hold around its speech beyond max_s (a microphone started early, stopped
# late): decoded, then trimmed away.
UNTRIMMED_SLACK_S = 15.0
LIMIT_SETTING = f"VOICE_SAMPLE_MAX_S, plus {UNTRIMMED_SLACK_S:g} s of silence around the speech"
# Silero's score above which a 32 ms window is speech (its own default threshold).
SPEECH_PROBABILITY = 0.5
# Kept around the first and last speech window: the onset of the first consonant and the decay of
# the last vowel are quieter than Silero's threshold.
KEEP_MARGIN_S = 0.15
# Of the trimmed span, at least this share must be speech: pauses between sentences are normal,
# a recording mostly of something else is not a voice.
MIN_SPEECH_SHARE = 0.3
# Below this peak level (dBFS, over 32 ms windows) a recording is silence, whatever Silero says.
SILENCE_DBFS = -60.0
# Loudness: the speech windows' RMS is brought to this level, the peak kept under the ceiling
# (a voice spoken back as loud as the built-in ones, never clipped).
TARGET_SPEECH_DBFS = -20.0
PEAK_CEILING = 0.95
TINY = 1e-12


@dataclass(frozen=True, eq=False)
class PreparedSample:
    """A recording ready to be a reference: float32 mono at 24 kHz, trimmed and normalised."""

    audio: np.ndarray

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE

    def for_whisper(self) -> np.ndarray:
        """The same audio at 16 kHz, what the recogniser (and the VAD) take."""
        return resample(self.audio, SAMPLE_RATE, WHISPER_RATE)


def decode_for_voice(data: bytes, *, max_seconds: float, param: str) -> np.ndarray:
    """What the decoder's child process runs for a voice's recording: stt/audio.py's decoder at
    24 kHz, its length error naming this limit. Module-level: the child imports it by name."""
    return decode_audio(data, max_seconds=max_seconds, param=param, rate=SAMPLE_RATE, limit=LIMIT_SETTING)


@functools.cache
def _silero() -> SileroVad:
    return SileroVad()


def resample(samples: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """Mono float32 from ``rate`` to ``to_rate`` (FFmpeg's resampler, flushed: nothing lost)."""
    if rate == to_rate or samples.size == 0:
        return samples
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=to_rate)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
    )
    frame.sample_rate = rate
    frame.pts = 0
    out = [f.to_ndarray().reshape(-1) for f in [*resampler.resample(frame), *resampler.resample(None)]]
    return np.concatenate(out).astype(np.float32, copy=False) if out else np.zeros(0, np.float32)


def speech_probabilities(audio16k: np.ndarray, vad: SpeechProbability) -> np.ndarray:
    """Silero's score of each 32 ms window of 16 kHz audio, each with its context before it."""
    count = audio16k.size // WINDOW_SAMPLES
    if count == 0:
        return np.zeros(0, np.float32)
    padded = np.concatenate([np.zeros(CONTEXT_SAMPLES, np.float32), audio16k[: count * WINDOW_SAMPLES]])
    starts = np.arange(count) * WINDOW_SAMPLES
    windows = padded[starts[:, None] + np.arange(CONTEXT_SAMPLES + WINDOW_SAMPLES)[None, :]]
    return vad(windows)


def _window_rms(audio: np.ndarray, window: int) -> np.ndarray:
    count = audio.size // window
    if count == 0:
        return np.zeros(0, np.float32)
    frames = audio[: count * window].reshape(count, window).astype(np.float64)
    return np.sqrt(np.mean(frames**2, axis=1))


def _dbfs(rms: float) -> float:
    return 20.0 * float(np.log10(max(rms, TINY)))


def prepare(
    data: bytes,
    *,
    min_s: float,
    max_s: float,
    param: str,
    vad: SpeechProbability | None = None,
    stop: threading.Event | None = None,
) -> PreparedSample:
    """An uploaded recording as a reference (blocking: call it from a worker thread). ``param``
    names the field that carried it in every error; ``vad``: Silero unless a test injects one;
    ``stop``: once set, the decoder's child is killed (the request was cancelled)."""
    audio = decode_isolated(
        data, max_seconds=max_s + UNTRIMMED_SLACK_S, param=param, decoder=decode_for_voice, stop=stop
    )
    return prepare_samples(audio, min_s=min_s, max_s=max_s, param=param, vad=vad)


def prepare_samples(
    audio: np.ndarray, *, min_s: float, max_s: float, param: str, vad: SpeechProbability | None = None
) -> PreparedSample:
    """Decoded 24 kHz mono audio, trimmed, checked and normalised (see ``prepare``)."""
    window = round(WINDOW_S * SAMPLE_RATE)  # 768 samples: the VAD's 32 ms at 24 kHz
    rms = _window_rms(audio, window)
    if rms.size == 0 or _dbfs(float(rms.max())) < SILENCE_DBFS:
        raise InvalidInputError(
            f"{param} holds only silence: record the speaker closer to the microphone, "
            "or check that it is not muted",
            param=param,
        )
    speech = speech_probabilities(resample(audio, SAMPLE_RATE, WHISPER_RATE), vad or _silero())
    speech = speech[: rms.size] >= SPEECH_PROBABILITY
    if not speech.any():
        raise InvalidInputError(
            f"{param} holds no speech (noise or music?): record one person speaking, in a quiet room",
            param=param,
        )
    spoken = np.flatnonzero(speech)
    margin = round(KEEP_MARGIN_S * SAMPLE_RATE)
    start = max(0, int(spoken[0]) * window - margin)
    end = min(audio.size, (int(spoken[-1]) + 1) * window + margin)
    trimmed = audio[start:end]
    seconds = trimmed.size / SAMPLE_RATE
    if seconds < min_s:
        raise InvalidInputError(
            f"{param} holds {seconds:.1f} s of speech once the silence around it is trimmed, shorter "
            f"than the {min_s:g} s a voice needs (VOICE_SAMPLE_MIN_S): record a longer sample",
            param=param,
        )
    if seconds > max_s:
        raise InvalidInputError(
            f"{param} holds {seconds:.1f} s of speech once the silence around it is trimmed, longer "
            f"than the {max_s:g} s a sample may be (VOICE_SAMPLE_MAX_S): cut it, or send it as "
            "several samples",
            param=param,
        )
    span = speech[int(spoken[0]) : int(spoken[-1]) + 1]
    share = float(span.mean())
    if share < MIN_SPEECH_SHARE:
        raise InvalidInputError(
            f"{param} is mostly not speech ({share:.0%} of it is; noise or music?): record one "
            "person speaking, in a quiet room",
            param=param,
        )
    speech_rms = float(np.sqrt(np.mean(rms[spoken] ** 2)))
    gain = 10 ** ((TARGET_SPEECH_DBFS - _dbfs(speech_rms)) / 20.0)
    peak = float(np.abs(trimmed).max())
    gain = min(gain, PEAK_CEILING / max(peak, TINY))
    logger.debug(
        "voice sample: %.1f s of %.1f s kept, %.0f%% speech, gain %.1f dB",
        seconds,
        audio.size / SAMPLE_RATE,
        100 * share,
        _dbfs(gain),
    )
    return PreparedSample((trimmed * np.float32(gain)).astype(np.float32))
