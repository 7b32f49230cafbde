"""The audio events a client sends (``audio-start``, ``audio-chunk``), parsed and their format
checked before any work is done on them: a rate in STREAM_RATES (stt/rates.py says why), a width
the converter reads, at most MAX_CHANNELS channels, whole samples. Anything else is an error that
names the field and what to send.
"""

from __future__ import annotations

from typing import TypeVar

from wyoming.audio import AudioChunk, AudioStart
from wyoming.event import Event

from coordinator.errors import InvalidInputError
from coordinator.stt.audio import MAX_CHANNELS
from coordinator.stt.rates import STREAM_RATES

# Bytes per sample: signed little-endian 8-, 16-, 24- and 32-bit, as the wyoming package's own
# converter (audioop) reads them. Home Assistant sends 2.
WIDTHS = (1, 2, 3, 4)


def _check(event: Event, parsed: AudioStart | AudioChunk) -> None:
    for name, value, allowed, fix in (
        ("rate", parsed.rate, STREAM_RATES, f"send audio at {STREAM_RATES.describe()}"),
        ("width", parsed.width, WIDTHS, "send 1, 2, 3 or 4 bytes per sample (16-bit: 2)"),
        ("channels", parsed.channels, range(1, MAX_CHANNELS + 1), f"send 1 to {MAX_CHANNELS} channels"),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value not in allowed:
            raise InvalidInputError(
                f"{event.type}: {name}={value!r} is not a {name} this server takes: {fix}", param="audio"
            )


_Audio = TypeVar("_Audio", AudioStart, AudioChunk)


def parsed_audio(event: Event, kind: type[_Audio]) -> _Audio:
    """``event`` as ``kind``, its format checked: audio-start and audio-chunk carry the same fields."""
    try:
        parsed = kind.from_event(event)
    except KeyError:
        raise InvalidInputError(f"{event.type} needs its rate, width and channels", param="audio") from None
    _check(event, parsed)
    return parsed


def audio_start(event: Event) -> AudioStart:
    return parsed_audio(event, AudioStart)


def audio_chunk(event: Event) -> AudioChunk:
    chunk = parsed_audio(event, AudioChunk)
    if not chunk.audio:
        raise InvalidInputError("audio-chunk without audio: send the samples as its payload", param="audio")
    if len(chunk.audio) % (chunk.width * chunk.channels):
        raise InvalidInputError(
            f"an audio-chunk of {len(chunk.audio)} bytes holds no whole number of samples of "
            f"{chunk.width} bytes x {chunk.channels} channels",
            param="audio",
        )
    return chunk
