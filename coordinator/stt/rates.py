"""The sample rates speech in accepts, in one place. Pure: no numpy, no PyAV.

Two ranges, because the rate means a different thing in each case:

- **An upload's rate is its container's** (``UPLOAD_RATES``, stt/audio.py): FFmpeg reads it from
  the file, and every decoded frame is counted against the request's budget of seconds *and* of
  input samples (``MAX_INPUT_SAMPLES_PER_SECOND``) before it is resampled, so a high rate costs only
  what the file holds. Files are recorded from telephone codecs up to studio interfaces' 384 kHz;
  below 4 kHz (half the telephone rate) nothing a recogniser can use survives, and resampling to
  16 kHz grows a frame at most 4×.
- **A raw stream's rate is the client's word** (``STREAM_RATES``: the live voice WebSocket's
  ``sample_rate``, Wyoming's ``audio-start``): headerless PCM arrives chunk by chunk, each chunk is
  resampled as it comes, and only its duration is budgeted, not its samples. A microphone streams at
  8 to 96 kHz; from 8 kHz up one received sample becomes at most two at 16 kHz, so a chunk (at most
  one message) cannot grow into more than twice its samples; at 1 Hz, 1.8 KB of input became 787 MB.

Unifying them would change what some client gets today: 4 kHz and 192 kHz files are decoded,
and a stream claiming such rates is refused before any work.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RateRange:
    """Accepted sample rates, in Hz, both ends included."""

    low: int
    high: int

    def __contains__(self, rate: object) -> bool:
        return isinstance(rate, int) and not isinstance(rate, bool) and self.low <= rate <= self.high

    def describe(self, *, separator: str = " to ") -> str:
        """The range as an error message names it: "8000 to 96000 Hz"."""
        return f"{self.low}{separator}{self.high} Hz"


UPLOAD_RATES = RateRange(4_000, 384_000)
STREAM_RATES = RateRange(8_000, 96_000)
