"""Pitch-preserving speed change for streamed speech: FFmpeg's ``atempo`` filter through PyAV.

atempo (WSOLA) keeps the pitch while changing the tempo. One atempo stage is kept within
0.5..2.0, where it sounds best, so 0.25..4.0 is reached by chaining stages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from fractions import Fraction

import numpy as np

from coordinator.audio.format import SAMPLE_RATE

ATEMPO_MIN, ATEMPO_MAX = 0.5, 2.0


def atempo_stages(speed: float) -> list[float]:
    """Factors within ATEMPO_MIN..ATEMPO_MAX whose product is ``speed``."""
    stages = []
    while speed > ATEMPO_MAX:
        stages.append(ATEMPO_MAX)
        speed /= ATEMPO_MAX
    while speed < ATEMPO_MIN:
        stages.append(ATEMPO_MIN)
        speed /= ATEMPO_MIN
    return [*stages, speed]


class TempoFilter:
    """Feed float chunks, get time-stretched float chunks; ``flush`` returns the held-back tail."""

    def __init__(self, speed: float) -> None:
        import av

        self._av = av
        self._time_base = Fraction(1, SAMPLE_RATE)
        self._graph = av.filter.Graph()
        source = self._graph.add_abuffer(
            format="flt", sample_rate=SAMPLE_RATE, layout="mono", time_base=self._time_base
        )
        stages = [self._graph.add("atempo", f"{factor:.6f}") for factor in atempo_stages(speed)]
        self._graph.link_nodes(source, *stages, self._graph.add("abuffersink")).configure()
        self._pts = 0

    def process(self, samples: np.ndarray) -> np.ndarray:
        frame = self._av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32)[np.newaxis, :], format="flt", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = self._time_base
        frame.pts = self._pts
        self._pts += frame.samples
        self._graph.push(frame)
        return self._drain()

    def flush(self) -> np.ndarray:
        self._graph.push(None)
        return self._drain()

    def _drain(self) -> np.ndarray:
        out = []
        while True:
            try:
                frame = self._graph.pull()
            except (self._av.BlockingIOError, self._av.EOFError):
                break
            out.append(frame.to_ndarray().reshape(-1))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


NORMAL_SPEED = 1.0


async def at_speed(chunks: AsyncIterator[np.ndarray], speed: float) -> AsyncIterator[np.ndarray]:
    """``chunks`` at ``speed`` (OpenAI's ``speed``), the tempo changed and the pitch kept."""
    if speed == NORMAL_SPEED:
        async for chunk in chunks:
            yield chunk
        return
    tempo = TempoFilter(speed)
    async for chunk in chunks:
        stretched = tempo.process(chunk)
        if stretched.size:
            yield stretched
    tail = tempo.flush()
    if tail.size:
        yield tail
