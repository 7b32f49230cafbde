"""Which frames to decode when, so that streamed audio equals one offline decode.

SNAC's decoder sees about ±2.32 frames around each output frame (measured, NOTES.md). Decoding a
window with LEFT_CONTEXT_FRAMES before and EXACT_LOOKAHEAD_FRAMES after the frames it emits, or
with the utterance's true start/end as its edge, reproduces the offline decode to float rounding.
Every frame is emitted exactly once: nothing at the start or end is dropped.

Pure: no torch. The planner only counts frames; the decoder does the work.
"""

from __future__ import annotations

from dataclasses import dataclass

LEFT_CONTEXT_FRAMES = 3
EXACT_LOOKAHEAD_FRAMES = 3
# Adaptive chunks: the first chunk is small for latency; later ones grow, since each call pays for
# its context frames and a fixed overhead, and the listener already has audio buffered by then.
FIRST_CHUNK_FRAMES = 1
CHUNK_GROWTH = 2
MAX_CHUNK_FRAMES = 16


@dataclass(frozen=True)
class Window:
    """Decode frames [context_start, context_end) and keep the samples of frames [start, end)."""

    context_start: int
    start: int
    end: int
    context_end: int

    @property
    def frames(self) -> int:
        return self.end - self.start


class WindowPlanner:
    """Decides the next window from how many frames exist and whether the utterance is complete."""

    def __init__(
        self,
        *,
        lookahead: int = EXACT_LOOKAHEAD_FRAMES,
        first_chunk: int = FIRST_CHUNK_FRAMES,
        max_chunk: int = MAX_CHUNK_FRAMES,
        left_context: int = LEFT_CONTEXT_FRAMES,
    ) -> None:
        if lookahead < 0 or left_context < 0 or not 1 <= first_chunk <= max_chunk:
            raise ValueError("need lookahead >= 0, left_context >= 0 and 1 <= first_chunk <= max_chunk")
        self.lookahead = lookahead
        self.left_context = left_context
        self.max_chunk = max_chunk
        self._target = first_chunk
        self.emitted = 0  # frames already handed out

    def next_window(self, available: int, finished: bool) -> Window | None:
        """The next window to decode, or None until enough frames have arrived."""
        ready = available if finished else available - self.lookahead
        pending = ready - self.emitted
        if pending <= 0 or (not finished and pending < self._target):
            return None
        # When generation runs ahead of decoding, everything ready goes in one call (up to a cap).
        frames = min(pending, self.max_chunk)
        start, end = self.emitted, self.emitted + frames
        window = Window(
            context_start=max(0, start - self.left_context),
            start=start,
            end=end,
            context_end=min(available, end + self.lookahead),
        )
        self.emitted = end
        self._target = min(self._target * CHUNK_GROWTH, self.max_chunk)
        return window
