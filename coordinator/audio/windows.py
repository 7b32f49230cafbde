"""Which frames to decode when, so that streamed audio equals one offline decode.

SNAC's decoder sees about ±2.32 frames around each output frame (measured, NOTES.md). Decoding a
window with LEFT_CONTEXT_FRAMES before and EXACT_LOOKAHEAD_FRAMES after the frames it emits, or
with the utterance's true start/end as its edge, reproduces the offline decode to float rounding.
Every frame is emitted exactly once: nothing at the start or end is dropped.

Time-aware when given the time: chunks grow for efficiency while the listener has audio in hand,
and shrink to whatever is ready when the audio in hand runs low (generation near real time).

Pure: no torch. The planner only counts frames (and seconds, when told the time); the decoder
does the work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from coordinator.audio.format import frames_to_seconds

LEFT_CONTEXT_FRAMES = 3
EXACT_LOOKAHEAD_FRAMES = 3
# Adaptive chunks: the first chunk is small for latency; later ones grow, since each call pays for
# its context frames and a fixed overhead, and the listener already has audio buffered by then.
FIRST_CHUNK_FRAMES = 1
CHUNK_GROWTH = 2
MAX_CHUNK_FRAMES = 16
# Growing chunks buy efficiency, never worth an underrun: once the listener has less audio than
# this left to play, whatever is ready is decoded at once, whatever the chunk target.
LOW_BUFFER_S = 0.25
# A window is cut so that its decode, at the decode speed seen so far, takes at most this share of
# the audio the listener has in hand: a window of everything ready can take longer to decode than
# the audio lasts (a CPU decodes a 5-frame window in about the 85 ms one frame plays).
DECODE_BUDGET_SHARE = 0.5
# Weight of the newest decode in the running estimate of decode seconds per frame.
DECODE_SPEED_SMOOTHING = 0.5


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


def growth_chunks(first_chunk: int = FIRST_CHUNK_FRAMES, max_chunk: int = MAX_CHUNK_FRAMES) -> list[int]:
    """The chunk sizes a planner steps through as its stream runs ahead: 1, 2, 4, 8, 16."""
    sizes = [first_chunk]
    while sizes[-1] < max_chunk:
        sizes.append(min(sizes[-1] * CHUNK_GROWTH, max_chunk))
    return sizes


def window_shapes(
    *,
    lookahead: int = EXACT_LOOKAHEAD_FRAMES,
    first_chunk: int = FIRST_CHUNK_FRAMES,
    max_chunk: int = MAX_CHUNK_FRAMES,
    left_context: int = LEFT_CONTEXT_FRAMES,
) -> list[tuple[int, int, int]]:
    """The (frames, keep_start, keep_end) windows of the growth schedule, for warming a decoder
    up on each: those a stream releases from its first window (no left context) to its steady
    state (full context both sides), plus, per chunk size, a last window (no lookahead) and a
    whole short utterance (no context). A listener running low gets whatever is ready, any
    size between; those are rarer and pay their first call themselves."""
    shapes: dict[tuple[int, int, int], None] = {}
    planner = WindowPlanner(
        lookahead=lookahead, first_chunk=first_chunk, max_chunk=max_chunk, left_context=left_context
    )
    available = 0
    steady = False
    while not steady:  # frames arrive one by one until a full-size window has full context
        available += 1
        while (window := planner.next_window(available, finished=False)) is not None:
            frames = window.context_end - window.context_start
            shapes[(frames, window.start - window.context_start, window.end - window.context_start)] = None
            steady = window.frames == max_chunk and window.start - window.context_start == left_context
    for chunk in growth_chunks(first_chunk, max_chunk):
        shapes[(left_context + chunk, left_context, left_context + chunk)] = None
        shapes[(chunk, 0, chunk)] = None
    return list(shapes)


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
        self._playback_start: float | None = None
        self._seconds_per_frame: float | None = None  # decode time per frame of window, context included

    def next_window(self, available: int, finished: bool, now: float | None = None) -> Window | None:
        """The next window to decode, or None until enough frames have arrived.

        ``now`` (seconds, any monotonic clock): the time of the call, for streams played as they
        arrive; playback is taken to start when the first window is released.
        """
        ready = available if finished else available - self.lookahead
        pending = ready - self.emitted
        if pending <= 0:
            return None
        if not finished and pending < self._target and not self._running_low(now):
            return None
        if self._playback_start is None:
            self._playback_start = now
        # When generation runs ahead of decoding, everything ready goes in one call (up to a cap),
        # unless decoding that much would outlast the audio in hand.
        frames = min(pending, self.max_chunk, self._affordable_frames(now))
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

    def observe_decode(self, window: Window, seconds: float) -> None:
        """Report how long ``window`` took from release to samples (queueing included, so a busy
        decoder shared with other streams counts as slow): later windows are sized by it."""
        per_frame = seconds / max(window.context_end - window.context_start, 1)
        if self._seconds_per_frame is None:
            self._seconds_per_frame = per_frame
        else:
            self._seconds_per_frame += DECODE_SPEED_SMOOTHING * (per_frame - self._seconds_per_frame)

    def _affordable_frames(self, now: float | None) -> int:
        """The most frames whose window decodes within the budget, but never fewer than keep up
        with playback: below that a window costs more time than the audio it adds, and only makes
        an overloaded decoder slower (each call decodes its context frames again)."""
        per_frame = self._seconds_per_frame
        if now is None or per_frame is None or per_frame <= 0:
            return self.max_chunk
        buffered = self.buffered_s(now)
        frame_s = frames_to_seconds(1)
        if buffered is None or per_frame >= frame_s:  # no window size keeps up: be efficient
            return self.max_chunk
        context = min(self.left_context, self.emitted) + self.lookahead
        keeps_up = math.ceil(context * per_frame / (frame_s - per_frame))
        within_budget = int(max(buffered, 0.0) * DECODE_BUDGET_SHARE / per_frame) - context
        return max(within_budget, keeps_up, 1)

    def deadline(self, window: Window) -> float | None:
        """When the listener runs out of audio if ``window`` is not there yet, on the clock given
        to next_window (None if it was never given)."""
        if self._playback_start is None:
            return None
        return self._playback_start + frames_to_seconds(window.start)

    def buffered_s(self, now: float) -> float | None:
        """Audio released but not yet played at ``now`` (None before the first window)."""
        if self._playback_start is None:
            return None
        return frames_to_seconds(self.emitted) - (now - self._playback_start)

    def _running_low(self, now: float | None) -> bool:
        if now is None:
            return False
        buffered = self.buffered_s(now)
        return buffered is not None and buffered < LOW_BUFFER_S
