"""Streaming SNAC decoding: frames in as they are generated, exact audio chunks out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from coordinator.audio.windows import Window, WindowPlanner
from coordinator.orpheus.layout import FRAME_TOKENS

INITIAL_FRAME_CAPACITY = 256  # ~22 s of audio before the buffer first doubles


class FrameCodec(Protocol):
    def decode_window(self, frames: np.ndarray, keep_start: int, keep_end: int) -> np.ndarray:
        """Samples of frames [keep_start, keep_end) of ``frames``, the rest being context."""
        ...

    def decode_batch(self, frames: np.ndarray, keep_start: int, keep_end: int) -> np.ndarray:
        """The same for (B, n, 7) windows of one shape at once → (B, samples)."""
        ...


class StreamingDecoder:
    """Buffers the frames of one utterance and decodes the windows the planner releases."""

    def __init__(self, codec: FrameCodec, planner: WindowPlanner | None = None) -> None:
        self._codec = codec
        self.planner = planner or WindowPlanner()
        self._frames = np.empty((INITIAL_FRAME_CAPACITY, FRAME_TOKENS), dtype=np.int64)
        self._count = 0

    @property
    def frames(self) -> np.ndarray:
        """All frames received so far, (F, 7)."""
        return self._frames[: self._count]

    @property
    def emitted_frames(self) -> int:
        return self.planner.emitted

    def push(self, frame: np.ndarray) -> None:
        if self._count == len(self._frames):
            self._frames = np.concatenate([self._frames, np.empty_like(self._frames)])
        self._frames[self._count] = frame
        self._count += 1

    def next_window(self, *, finished: bool, now: float | None = None) -> Window | None:
        """The next window ready to decode (None until enough frames arrived); ``now``: see
        WindowPlanner.next_window."""
        return self.planner.next_window(self._count, finished, now)

    def window_input(self, window: Window) -> tuple[np.ndarray, int, int]:
        """What the codec decodes for ``window``: its frames, context included, and the kept range."""
        return (
            self._frames[window.context_start : window.context_end],
            window.start - window.context_start,
            window.end - window.context_start,
        )

    def decode(self, window: Window) -> np.ndarray:
        """The samples of ``window``'s emitted frames, decoded in the calling thread."""
        return self._codec.decode_window(*self.window_input(window))

    def decode_ready(self, *, finished: bool) -> Iterator[np.ndarray]:
        """Decode every window that is ready now; with ``finished`` that flushes the utterance."""
        while (window := self.next_window(finished=finished)) is not None:
            yield self.decode(window)
