"""Uploaded audio → 16 kHz mono float32, the input Whisper takes, through FFmpeg (PyAV).

Any container and codec FFmpeg reads: wav, mp3, ogg/opus, webm (browsers' MediaRecorder), m4a/aac,
flac. The content type a client sends is not trusted (Open WebUI sends none): FFmpeg probes the
bytes.

What an upload may cost is bounded by what it *is*, checked on each decoded frame before anything
grows it, never by what its header claims:

- **Time and samples.** Each frame's duration (its samples over its own rate) is added up before the
  frame is resampled; past ``max_seconds`` (MAX_AUDIO_SECONDS) the decode stops with a 400. So does
  a total of input samples (all channels) past ``max_seconds × MAX_INPUT_SAMPLES_PER_SECOND``: a
  192 kHz 8-channel file costs more to resample than its duration says. Resampling grows a frame by
  16 kHz over its rate, so a rate below ``MIN_SAMPLE_RATE`` is refused outright (a 1 Hz FLAC frame
  of 8192 samples was 4 GB once resampled), and one above ``MAX_SAMPLE_RATE`` too.
- **Channels.** At most ``MAX_CHANNELS``. Frames are converted to *packed* float32 (one buffer,
  channels interleaved) and averaged in numpy; PyAV never builds a planar frame's plane list here.
  That list is where 8 or more channels crashed the server: ``AudioFrame.planes`` counts planes by
  walking FFmpeg's ``extended_data`` until a NULL pointer, and with 8 channels the pointer array has
  no NULL after the 8th (PyAV 18), so ``to_ndarray()`` read past it (a 110-byte FLAC, SIGSEGV).

Why normalise rather than only refuse: with packed frames any channel count up to the cap decodes
(8-microphone arrays and 7.1 files exist), at no cost (one buffer either way). Why average in numpy
rather than let FFmpeg downmix: its matrix adds channels at -3 dB each, which takes loud stereo past
full scale, and it needs a known channel layout, which a hostile header need not give.

The decode itself runs in a child process (``isolated.py``): these checks answer what is known; the
child is what keeps an unknown FFmpeg or PyAV crash on hostile input from killing the server.
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from coordinator.errors import CancelledError, InvalidInputError
from coordinator.stt.rates import STREAM_RATES, UPLOAD_RATES
from coordinator.stt.transcript import SAMPLE_RATE

if TYPE_CHECKING:
    import av

logger = logging.getLogger(__name__)

PCM16_SCALE = 32768.0
PCM16_BYTES = 2
_RESAMPLED_FORMAT = "flt"  # packed float32: one buffer, channels interleaved
_LAYOUT = "mono"
# An upload's rates (rates.py says why they differ from a raw stream's).
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = UPLOAD_RATES.low, UPLOAD_RATES.high
# 7.1 surround, or an 8-microphone array: more channels are not a recording of speech.
MAX_CHANNELS = 8
# Input samples (over all channels) one second of allowed audio may hold: 8 channels at 48 kHz,
# or stereo at 192 kHz. Bounds the resampling work of the richest honest recordings.
MAX_INPUT_SAMPLES_PER_SECOND = MAX_CHANNELS * 48_000
FORMATS_HINT = "send wav, mp3, ogg/opus, webm, m4a or flac"


class InvalidAudioError(InvalidInputError):
    """The upload is not audio FFmpeg can read (or holds no sound)."""

    code = "invalid_audio"


def _too_long(max_seconds: float, param: str, limit: str = "MAX_AUDIO_SECONDS") -> InvalidInputError:
    return InvalidInputError(
        f"{param} is longer than this server's limit of {max_seconds:g} s of audio ({limit}): "
        "cut it into shorter pieces",
        param=param,
    )


@dataclass
class _Budget:
    """What the frames decoded so far hold, checked before each one is resampled."""

    max_seconds: float
    param: str
    limit: str = "MAX_AUDIO_SECONDS"
    seconds: float = 0.0
    samples: int = 0

    def take(self, samples: int, rate: int, channels: int) -> None:
        check_rate(rate, self.param)
        check_channels(channels, self.param)
        self.seconds += samples / rate
        self.samples += samples * channels
        if self.seconds > self.max_seconds:
            raise _too_long(self.max_seconds, self.param, self.limit)
        if self.samples > self.max_seconds * MAX_INPUT_SAMPLES_PER_SECOND:
            raise InvalidInputError(
                f"{self.param} holds more samples than {self.max_seconds:g} s of audio may "
                f"({MAX_INPUT_SAMPLES_PER_SECOND} a second over all channels): send it as mono, "
                "or at 48 kHz or less",
                param=self.param,
            )


def check_rate(rate: int, param: str) -> None:
    if rate not in UPLOAD_RATES:
        raise InvalidAudioError(
            f"{param} has a sample rate of {rate} Hz, outside the {UPLOAD_RATES.describe(separator='–')} "
            "this server decodes: record speech at 8, 16, 44.1 or 48 kHz",
            param=param,
        )


def check_channels(channels: int, param: str) -> None:
    if not 1 <= channels <= MAX_CHANNELS:
        raise InvalidAudioError(
            f"{param} has {channels} audio channels, more than the {MAX_CHANNELS} this server decodes: "
            "send mono or stereo",
            param=param,
        )


def decode_audio(
    data: bytes,
    *,
    max_seconds: float,
    param: str = "file",
    stop: threading.Event | None = None,
    rate: int = SAMPLE_RATE,
    limit: str = "MAX_AUDIO_SECONDS",
) -> np.ndarray:
    """The first audio stream of ``data``, downmixed and resampled to ``rate`` (16 kHz, Whisper's)
    float32 in [-1, 1]. ``stop``: checked between frames; once set, raises CancelledError.
    ``limit``: the setting named when the audio is longer than ``max_seconds`` (a custom voice's
    recording decodes at 24 kHz, under its own limit: coordinator/voices/sample.py)."""
    import av

    if not data:
        raise InvalidAudioError(
            f"{param} is empty: send an audio file (wav, mp3, ogg, webm, m4a, flac)", param=param
        )
    budget = _Budget(max_seconds, param, limit)
    pieces: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise InvalidAudioError(
                    f"{param} holds no audio stream: send an audio file (wav, mp3, ogg, webm, m4a, flac)",
                    param=param,
                )
            stream = container.streams.audio[0]
            # What the header says is refused early; each frame is checked again (it may differ).
            if stream.codec_context.sample_rate:
                check_rate(stream.codec_context.sample_rate, param)
            if stream.codec_context.channels:
                check_channels(stream.codec_context.channels, param)
            # Channels kept, then averaged here: FFmpeg's own downmix adds them at -3 dB each,
            # which takes loud stereo past full scale.
            resampler = av.AudioResampler(format=_RESAMPLED_FORMAT, rate=rate)
            for frame in container.decode(stream):
                if stop is not None and stop.is_set():
                    raise CancelledError("the decode was cancelled")
                budget.take(frame.samples, frame.sample_rate, frame.layout.nb_channels)
                pieces.extend(_mono(out) for out in resampler.resample(frame))
            pieces.extend(_mono(out) for out in resampler.resample(None))
    except (InvalidInputError, CancelledError):
        raise
    except (av.FFmpegError, ValueError, UnicodeDecodeError, IndexError) as exc:
        logger.info("upload not decodable: %s", exc)
        raise InvalidAudioError(
            f"{param} is not audio this server can read ({type(exc).__name__}): {FORMATS_HINT}",
            param=param,
        ) from None
    samples = np.concatenate(pieces).astype(np.float32, copy=False) if pieces else np.zeros(0, np.float32)
    # The budget bounded the input's duration; the resampler's flush can add a few samples past it.
    if samples.size > max_seconds * rate:
        raise _too_long(max_seconds, param, limit)
    if samples.size == 0:
        raise InvalidAudioError(
            f"{param} holds no audio samples: send a recording that is not empty", param=param
        )
    return samples


def _mono(frame: av.AudioFrame) -> np.ndarray:
    """A packed float32 frame, its channels averaged. Packed: one plane, whatever the channels
    (see the module's docstring for what a planar frame's planes do)."""
    channels = frame.layout.nb_channels
    interleaved = frame.to_ndarray().reshape(-1, channels)
    return interleaved[:, 0] if channels == 1 else interleaved.mean(axis=1, dtype=np.float32)


def pcm16_to_float(data: bytes) -> np.ndarray:
    """16-bit little-endian mono PCM → float32 in [-1, 1]."""
    if len(data) % 2:
        raise InvalidInputError(
            "audio message has an odd number of bytes: send 16-bit little-endian PCM", param="audio"
        )
    return pcm_to_mono(data, PCM16_BYTES, 1)


def pcm_to_mono(audio: bytes, width: int, channels: int) -> np.ndarray:
    """Interleaved signed little-endian PCM of ``width`` bytes per sample → mono float32 in
    [-1, 1], the channels averaged (a sum would take loud stereo past full scale)."""
    if width == 3:  # no 24-bit integer type: each sample as the top three bytes of an int32
        padded = np.zeros((len(audio) // 3, 4), np.uint8)
        padded[:, 1:] = np.frombuffer(audio, np.uint8).reshape(-1, 3)
        ints = padded.view("<i4").reshape(-1)
        scale = float(2**31)
    else:
        ints = np.frombuffer(audio, f"<i{width}")
        scale = float(2 ** (8 * width - 1))
    samples = ints.astype(np.float32) / np.float32(scale)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return samples


class PcmResampler:
    """Streamed mono float32 at ``rate`` → 16 kHz float32, chunk by chunk (a microphone's 48 kHz)."""

    # A raw stream's rates (rates.py says why they differ from an upload's).
    MIN_RATE, MAX_RATE = STREAM_RATES.low, STREAM_RATES.high

    def __init__(self, rate: int) -> None:
        if rate not in STREAM_RATES:
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
