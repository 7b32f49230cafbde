"""Uploaded audio → 16 kHz mono float32, the input Whisper takes, through FFmpeg (PyAV).

Any container and codec FFmpeg reads: wav, mp3, ogg/opus, webm (browsers' MediaRecorder), m4a/aac,
flac. The content type a client sends is not trusted (Open WebUI sends none): FFmpeg probes the
bytes. Decoding stops as soon as the audio passes the duration cap, so an hour-long file costs
no more than the cap.
"""

from __future__ import annotations

import io
import logging

import numpy as np

from coordinator.errors import InvalidInputError
from coordinator.stt.transcript import SAMPLE_RATE

logger = logging.getLogger(__name__)

PCM16_SCALE = 32768.0
_RESAMPLED_FORMAT = "flt"  # packed float32
_PLANAR_FORMAT = "fltp"  # one float32 plane per channel
_LAYOUT = "mono"


class InvalidAudioError(InvalidInputError):
    """The upload is not audio FFmpeg can read (or holds no sound)."""

    code = "invalid_audio"


def _too_long(max_seconds: float, param: str) -> InvalidInputError:
    return InvalidInputError(
        f"{param} is longer than this server's limit of {max_seconds:g} s of audio (MAX_AUDIO_SECONDS): "
        "cut it into shorter pieces",
        param=param,
    )


def decode_audio(data: bytes, *, max_seconds: float, param: str = "file") -> np.ndarray:
    """The first audio stream of ``data``, downmixed and resampled to 16 kHz float32 in [-1, 1]."""
    import av

    if not data:
        raise InvalidAudioError(
            f"{param} is empty: send an audio file (wav, mp3, ogg, webm, m4a, flac)", param=param
        )
    max_samples = int(max_seconds * SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    total = 0
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise InvalidAudioError(
                    f"{param} holds no audio stream: send an audio file (wav, mp3, ogg, webm, m4a, flac)",
                    param=param,
                )
            stream = container.streams.audio[0]
            # Channels kept, then averaged here: FFmpeg's own downmix adds them at -3 dB each,
            # which takes loud stereo past full scale.
            resampler = av.AudioResampler(format=_PLANAR_FORMAT, rate=SAMPLE_RATE)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().mean(axis=0)
                    total += samples.size
                    if total > max_samples:
                        raise _too_long(max_seconds, param)
                    pieces.append(samples)
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray().mean(axis=0))
    except InvalidInputError:
        raise
    except (av.FFmpegError, ValueError, UnicodeDecodeError, IndexError) as exc:
        logger.info("upload not decodable: %s", exc)
        raise InvalidAudioError(
            f"{param} is not audio this server can read ({type(exc).__name__}): send wav, mp3, ogg/opus, "
            "webm, m4a or flac",
            param=param,
        ) from None
    samples = np.concatenate(pieces).astype(np.float32, copy=False) if pieces else np.zeros(0, np.float32)
    if samples.size > max_samples:
        raise _too_long(max_seconds, param)
    if samples.size == 0:
        raise InvalidAudioError(
            f"{param} holds no audio samples: send a recording that is not empty", param=param
        )
    return samples


def pcm16_to_float(data: bytes) -> np.ndarray:
    """16-bit little-endian PCM → float32 in [-1, 1]."""
    if len(data) % 2:
        raise InvalidInputError(
            "audio message has an odd number of bytes: send 16-bit little-endian PCM", param="audio"
        )
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / PCM16_SCALE


class PcmResampler:
    """Streamed mono float32 at ``rate`` → 16 kHz float32, chunk by chunk (a microphone's 48 kHz)."""

    # The rates a streamed microphone may come at, from telephony's 8 kHz to an audio interface's
    # 96 kHz. Below, speech loses what Whisper hears, and the resampler becomes an amplifier: at
    # 1 Hz each sample received would be 16,000 samples to hold. From 8 kHz up, one becomes at most two.
    MIN_RATE = 8_000
    MAX_RATE = 96_000

    def __init__(self, rate: int) -> None:
        if not self.MIN_RATE <= rate <= self.MAX_RATE:
            raise ValueError(f"rate {rate} Hz is outside {self.MIN_RATE}..{self.MAX_RATE}: check it before")
        self.rate = rate
        self._resampler = None
        if rate != SAMPLE_RATE:
            import av

            self._resampler = av.AudioResampler(format=_RESAMPLED_FORMAT, layout=_LAYOUT, rate=SAMPLE_RATE)
        self._pts = 0

    def process(self, samples: np.ndarray) -> np.ndarray:
        if self._resampler is None or samples.size == 0:
            return samples
        import av

        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format=_RESAMPLED_FORMAT, layout=_LAYOUT)
        frame.sample_rate = self.rate
        frame.pts = self._pts
        self._pts += samples.size
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out).astype(np.float32, copy=False) if out else np.zeros(0, np.float32)
