"""Streaming audio encoders: float chunks in, bytes of the chosen container out, chunk by chunk.

Each encoder emits its header first and its bytes as audio arrives, so an HTTP response can start
playing before the utterance is complete. Lengths are unknown up front: the WAV header says
"until end of stream" (0xFFFFFFFF), which players, ffmpeg and libsndfile accept (libsndfile counts
the samples that arrived). FLAC is the exception: its STREAMINFO header carries the total length,
and libsndfile turns "unknown" into an absurd one, so a FLAC answer is encoded once complete
(``WholeFlacEncoder``), unless the client asked for a live stream.
"""

from __future__ import annotations

import io
import logging
import struct
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np

from coordinator.audio.format import CHANNELS, SAMPLE_RATE, to_pcm16
from coordinator.errors import InvalidInputError

if TYPE_CHECKING:
    from av.audio.stream import AudioStream

logger = logging.getLogger(__name__)

PCM16_BYTES = 2
UNKNOWN_LENGTH = 0xFFFFFFFF
WAV_FORMAT_PCM = 1
BITS_PER_SAMPLE = 16


class StreamEncoder(Protocol):
    media_type: str

    def encode(self, samples: np.ndarray) -> bytes:
        """Bytes for this chunk (the first call includes the container header)."""
        ...

    def finish(self) -> bytes:
        """Whatever the container still holds back (trailing pages, padding)."""
        ...

    def close(self) -> None:
        """Free what the encoder holds (FFmpeg's codec context and its threads). Safe to call
        more than once, after ``finish`` or instead of it (a cancelled stream)."""
        ...


def wav_stream_header(sample_rate: int = SAMPLE_RATE) -> bytes:
    """A 44-byte PCM16 mono WAV header whose sizes mean "until the end of the stream"."""
    byte_rate = sample_rate * CHANNELS * PCM16_BYTES
    return (
        b"RIFF"
        + struct.pack("<I", UNKNOWN_LENGTH)
        + b"WAVEfmt "
        + struct.pack(
            "<IHHIIHH",
            16,
            WAV_FORMAT_PCM,
            CHANNELS,
            sample_rate,
            byte_rate,
            CHANNELS * PCM16_BYTES,
            BITS_PER_SAMPLE,
        )
        + b"data"
        + struct.pack("<I", UNKNOWN_LENGTH)
    )


class PcmEncoder:
    """Raw little-endian 16-bit mono PCM at 24 kHz (OpenAI's `pcm`)."""

    media_type = "audio/pcm"

    def encode(self, samples: np.ndarray) -> bytes:
        return to_pcm16(samples).astype("<i2").tobytes()

    def finish(self) -> bytes:
        return b""

    def close(self) -> None:
        pass  # nothing held


class WavEncoder(PcmEncoder):
    media_type = "audio/wav"

    def __init__(self) -> None:
        self._header_sent = False

    def encode(self, samples: np.ndarray) -> bytes:
        body = super().encode(samples)
        if self._header_sent:
            return body
        self._header_sent = True
        return wav_stream_header() + body

    def finish(self) -> bytes:
        return b"" if self._header_sent else wav_stream_header()


class _ByteQueue(io.RawIOBase):
    """A write-only, non-seekable file for FFmpeg's muxer: bytes are collected and handed out once."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


class FFmpegEncoder:
    """A compressed container encoded incrementally by FFmpeg (PyAV) into a non-seekable stream.

    Being non-seekable, the muxer writes every header up front and never patches lengths, which is
    what a streamed response needs (FLAC's total-samples field stays 0: "unknown").
    """

    def __init__(
        self,
        media_type: str,
        container: str,
        codec: str,
        options: dict[str, str],
        codec_options: dict[str, str],
    ) -> None:
        import av  # FFmpeg is only loaded when a compressed format is asked for

        self.media_type = media_type
        self._av = av
        self._sink = _ByteQueue()
        self._closed = False
        self._container = av.open(self._sink, mode="w", format=container, options=options)
        self._stream = cast(
            "AudioStream",
            self._container.add_stream(codec, rate=SAMPLE_RATE, layout="mono", options=codec_options),
        )

    def encode(self, samples: np.ndarray) -> bytes:
        frame = self._av.AudioFrame.from_ndarray(
            to_pcm16(samples)[np.newaxis, :], format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._sink.take()

    def finish(self) -> bytes:
        for packet in self._stream.encode(None):  # flush the codec's look-ahead
            self._container.mux(packet)
        self.close()
        return self._sink.take()

    def close(self) -> None:
        # Left to the garbage collector, an abandoned container (a client gone mid-stream) kept
        # FFmpeg's codec context and its encoder threads alive: the soak saw threads pile up.
        if self._closed:
            return
        self._closed = True
        try:
            self._container.close()
        except Exception as exc:  # a half-written stream may not close cleanly: it is freed anyway
            logger.debug("closing the %s encoder: %s", self.media_type, exc)
        # Closing the container leaves the codec context (and its threads) to PyAV's objects'
        # deallocation: drop them now, not whenever the stream that owns this encoder is collected.
        del self._stream, self._container


class WholeFlacEncoder:
    """FLAC written once all the audio is in, so that STREAMINFO holds the true sample count (and
    the MD5 of the samples): what an archive, soundfile or a seeking player needs. Nothing is sent
    before ``finish``."""

    media_type = "audio/flac"

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []

    def encode(self, samples: np.ndarray) -> bytes:
        self._chunks.append(to_pcm16(samples))
        return b""

    def finish(self) -> bytes:
        import soundfile as sf  # libsndfile's FLAC writer seeks back to complete STREAMINFO

        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)
        self._chunks.clear()
        out = io.BytesIO()
        sf.write(out, pcm, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        return out.getvalue()

    def close(self) -> None:
        self._chunks.clear()


# Ogg holds audio back until a page fills (1 s by default); short pages keep the stream live.
OGG_PAGE_DURATION_US = 100_000

# OpenAI's response_format → (media type, FFmpeg container, encoder, muxer options, encoder options).
_FFMPEG_FORMATS: dict[str, tuple[str, str, str, dict[str, str], dict[str, str]]] = {
    # Bare MPEG frames: no Xing/LAME info frame (it is only filled in by seeking back, which a
    # stream cannot) and no ID3v2 tag, so that answers played back to back (LibreChat pipes several
    # into one audio/mpeg stream) are one valid stream, with no tag or length header in the middle;
    # and no bit reservoir (a decoder joining the stream cold would meet frames that borrow from before).
    "mp3": (
        "audio/mpeg",
        "mp3",
        "libmp3lame",
        {"write_xing": "0", "id3v2_version": "0"},
        {"reservoir": "0"},
    ),
    "opus": ("audio/ogg", "ogg", "libopus", {"page_duration": str(OGG_PAGE_DURATION_US)}, {}),
    "aac": ("audio/aac", "adts", "aac", {}, {}),
    "flac": ("audio/flac", "flac", "flac", {}, {}),
}


STREAMING_FORMATS = ("wav", "pcm", *_FFMPEG_FORMATS)


def media_type_of(response_format: str) -> str:
    """The Content-Type a ``response_format`` streams as (for the API's documentation)."""
    if response_format == "wav":
        return WavEncoder.media_type
    if response_format == "pcm":
        return PcmEncoder.media_type
    return _FFMPEG_FORMATS[response_format][0]


def make_encoder(response_format: str, *, live: bool = False) -> StreamEncoder:
    """The encoder for an OpenAI ``response_format``; an unknown one names the supported ones.
    ``live``: FLAC too streams as it is encoded, its length left unknown (see the module's doc)."""
    if response_format == "wav":
        return WavEncoder()
    if response_format == "pcm":
        return PcmEncoder()
    if response_format == "flac" and not live:
        return WholeFlacEncoder()
    if response_format in _FFMPEG_FORMATS:
        return FFmpegEncoder(*_FFMPEG_FORMATS[response_format])
    raise InvalidInputError(
        f"response_format {response_format!r} is not supported: use one of {', '.join(STREAMING_FORMATS)}",
        param="response_format",
    )
