"""Recognisers for the speech-in route tests: the real tiny transcriber, held or failing on cue."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading

import numpy as np

from coordinator.stt.engine import SpeechToText
from tests.rig.waiting import eventually

# What a device error looks like in CTranslate2's message; the route must never echo it.
DEVICE_ERROR = "CUDA failed with error unspecified launch failure at /src/kernel.cu"


def with_stt(runtime, stt):
    """The test runtime with another recogniser (a shallow copy: its engines are shared)."""
    other = copy.copy(runtime)
    other.stt = stt
    return other


class Held:
    """The real transcriber, held before it starts until ``released`` (a slot kept busy)."""

    def __init__(self, real) -> None:
        self.real, self.model_id, self.config = real, real.model_id, real.config
        self.released = threading.Event()

    def check(self, **kwargs) -> None:
        self.real.check(**kwargs)

    def transcribe(self, samples, **kwargs):
        self.released.wait(timeout=30)
        return self.real.transcribe(samples, **kwargs)


class HeldAfterFirstWords:
    """The real transcriber; once it has handed over a segment with text, it waits until the
    transcription is cancelled (the client leaving should do that) before it goes on."""

    HOLD_S = 30

    def __init__(self, real) -> None:
        self.real, self.model_id, self.config = real, real.model_id, real.config
        self.segments = 0
        self.held = False
        self.held_at = 0  # segments handed over when it began to hold
        self.cancelled = threading.Event()

    def check(self, **kwargs) -> None:
        self.real.check(**kwargs)

    def transcribe(self, samples, *, on_segment=None, cancelled=None, **kwargs):
        def held(segment) -> None:
            self.segments += 1
            if on_segment is not None:
                on_segment(segment)
            if segment.text.strip() and not self.held:
                self.held = True
                self.held_at = self.segments
                if cancelled.wait(self.HOLD_S):
                    self.cancelled.set()

        return self.real.transcribe(samples, on_segment=held, cancelled=cancelled, **kwargs)


class FailsAfterFirstSegment:
    """The real transcriber, failing as CTranslate2 does on a device error once its first segment is out."""

    def __init__(self, real) -> None:
        self.real, self.model_id, self.config = real, real.model_id, real.config

    def check(self, **kwargs) -> None:
        self.real.check(**kwargs)

    def transcribe(self, samples, *, on_segment=None, **kwargs):
        def fail_after(segment) -> None:
            if on_segment is not None:
                on_segment(segment)
            raise RuntimeError(DEVICE_ERROR)

        return self.real.transcribe(samples, on_segment=fail_after, **kwargs)


OCCUPANT_AUDIO_S = 0.2
WHISPER_RATE = 16_000


@contextlib.contextmanager
def busy_recogniser(stt, **queue):
    """A one-slot recogniser over ``stt``'s transcriber whose slot a held request occupies."""
    held = Held(stt.transcriber)
    busy = SpeechToText(held, slots=1, **queue)  # type: ignore[arg-type]
    occupant_audio = np.zeros(int(OCCUPANT_AUDIO_S * WHISPER_RATE), np.float32)
    occupant = threading.Thread(target=lambda: asyncio.run(busy.transcribe(occupant_audio)))
    occupant.start()
    eventually(lambda: busy.busy, "the held request occupies the slot")
    try:
        yield busy
    finally:
        held.released.set()
        occupant.join(timeout=30)
        busy.close()
