"""Stop strings on streamed text: emit what is certainly not part of a stop, hold back the rest."""

from __future__ import annotations

from collections.abc import Sequence


class StopMatcher:
    """Feed text deltas; get back what may be sent and whether a stop string was hit.

    A tail that could still grow into a stop string is held back until the next delta decides it,
    so a client never receives part of a stop string. The stop that counts is the one completed
    first (the earliest end; of those, the longest): generation halts there, so what the text
    would have held afterwards must not matter, however the stream was cut into deltas.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [s for s in stops if s]
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        pending = self._held + text
        # (end, start) of each stop's first occurrence: the first to end wins, the longest on a tie.
        hits = [(index + len(stop), index) for stop in self._stops if (index := pending.find(stop)) >= 0]
        if hits:
            self.stopped = True
            self._held = ""
            _, start = min(hits)
            return pending[:start]
        keep = self._longest_stop_prefix_suffix(pending)
        self._held = pending[len(pending) - keep :] if keep else ""
        return pending[: len(pending) - keep]

    def flush(self) -> str:
        rest, self._held = self._held, ""
        return "" if self.stopped else rest

    def _longest_stop_prefix_suffix(self, text: str) -> int:
        best = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(text)), best, -1):
                if text.endswith(stop[:size]):
                    best = size
                    break
        return best
