"""What a realtime client does on the wire, shared by the end-to-end tests: espeak-ng speech as
24 kHz pcm16 in base64 ``input_audio_buffer.append`` chunks, and reading server events until one of a
type while checking every event against the openai SDK's own pydantic models."""

from __future__ import annotations

import asyncio
import base64
import functools
import re
import time
import typing
from typing import Any

import numpy as np
import pydantic
from openai.types.realtime import RealtimeServerEvent

from tests.rig.audio_samples import pcm16, silence, spoken

# The Realtime API's pcm16: 24 kHz mono little-endian.
RATE = 24_000
BYTES_PER_SAMPLE = 2
# One append per 100 ms, as a microphone's frames arrive (sent without its pauses).
CHUNK_S = 0.1
# A bound on a hang, not a timing (see tests/rig/waiting.py): tiny models on a loaded 2-core machine.
EVENT_TIMEOUT_S = 120
# Enough trailing silence for server VAD's default silence_duration_ms (500 ms) with margin.
TRAILING_SILENCE_S = 1.5
MODEL = "gpt-realtime"


def _by_type() -> dict[str, type[pydantic.BaseModel]]:
    """The SDK's server event models by their ``type`` literal."""
    union = typing.get_args(RealtimeServerEvent)[0]
    return {typing.get_args(m.model_fields["type"].annotation)[0]: m for m in typing.get_args(union)}


_SERVER_EVENTS = _by_type()


@functools.cache
def speech(text: str) -> np.ndarray:
    """espeak-ng's recording of ``text`` resampled to 24 kHz float32 (by FFmpeg, as a client would)."""
    import av

    samples, rate = spoken(text)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
    frame.sample_rate = rate
    frame.pts = 0
    out = [f.to_ndarray().reshape(-1) for f in [*resampler.resample(frame), *resampler.resample(None)]]
    return np.concatenate(out)


def utterance(text: str, *, lead_s: float = 0.3, trail_s: float = TRAILING_SILENCE_S) -> np.ndarray:
    return np.concatenate([silence(lead_s, RATE), speech(text), silence(trail_s, RATE)])


def chunks(samples: np.ndarray) -> list[str]:
    """``samples`` as base64 pcm16 appends of CHUNK_S each."""
    step = int(CHUNK_S * RATE)
    return [base64.b64encode(pcm16(samples[i : i + step])).decode() for i in range(0, samples.size, step)]


def decoded(delta: str) -> np.ndarray:
    """An audio delta's samples; fails unless it is base64 of whole pcm16 samples."""
    raw = base64.b64decode(delta, validate=True)
    assert raw and len(raw) % BYTES_PER_SAMPLE == 0, f"{len(raw)} bytes are not whole pcm16 samples"
    return np.frombuffer(raw, dtype="<i2")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def mismatch(raw: dict[str, Any]) -> str | None:
    """Why ``raw`` is not a server event as the openai SDK's models define it (validated strictly,
    unlike the SDK's own recv(), which constructs without checking); None if it is one."""
    model = _SERVER_EVENTS.get(raw.get("type"))
    if model is None:
        return f"not a server event of the Realtime API: {raw}"
    try:
        model.model_validate(raw)
    except pydantic.ValidationError as error:
        return f"{raw['type']} is not what the openai SDK expects: {error}\n{raw}"
    return None


def checked(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw``, failing unless it is a server event as the SDK's models define it."""
    problem = mismatch(raw)
    assert problem is None, problem
    return raw


class Recorder:
    """Every server event of one connection, in order, with its arrival time, and those the SDK's
    models refuse (``malformed``: a test asserts it empty at its end, so that one wrong field does
    not hide what the rest of the conversation does)."""

    def __init__(self, receive) -> None:
        self._receive = receive  # async () -> dict
        self.events: list[dict[str, Any]] = []
        self.times: list[float] = []
        self.malformed: list[str] = []

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    async def next(self) -> dict[str, Any]:
        """The next event, whatever it is (errors included)."""
        event = await asyncio.wait_for(self._receive(), timeout=EVENT_TIMEOUT_S)
        if (problem := mismatch(event)) is not None:
            self.malformed.append(problem)
        self.events.append(event)
        self.times.append(time.monotonic())
        return event

    async def until(self, kind: str, *, allow_errors: bool = False, **match: Any) -> dict[str, Any]:
        """Read events until one of ``kind`` (whose fields equal ``match``); an ``error`` on the way
        fails unless ``allow_errors``."""
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while True:
            assert time.monotonic() < deadline, f"no {kind} event in {EVENT_TIMEOUT_S} s: {self.types}"
            event = await self.next()
            if event["type"] == "error" and not allow_errors and kind != "error":
                raise AssertionError(f"error event while waiting for {kind}: {event}")
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    def index(self, kind: str, start: int = 0) -> int:
        return self.types.index(kind, start)


def sdk_recorder(connection) -> Recorder:
    """A Recorder over the openai SDK's connection (raw JSON, so the check above sees every field)."""
    import json

    async def receive() -> dict[str, Any]:
        return json.loads(await connection.recv_bytes())

    return Recorder(receive)


def ws_recorder(ws) -> Recorder:
    """A Recorder over a plain ``websockets`` connection."""
    import json

    async def receive() -> dict[str, Any]:
        return json.loads(await ws.recv())

    return Recorder(receive)


def assert_wellformed(*recorders: Recorder) -> None:
    """Every event the recorders saw was a server event as the openai SDK's models define it."""
    problems = [problem for recorder in recorders for problem in recorder.malformed]
    assert not problems, "\n".join(problems)
