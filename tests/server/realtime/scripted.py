"""A Realtime session without a transport, for the session tests: a scripted client, a sink that
can hold an audio delta (a client reading slowly) and a clock the test moves, so that barge-in,
cancellation and overlapping responses are tested without racing the models."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from coordinator.server.realtime.config import AUDIO_RATE
from coordinator.server.realtime.session import RealtimeSession
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from tests.rig.audio_samples import pcm16, spoken
from tests.rig.clock import FakeClock

MS_PER_S = 1000
IDLE_S = 120.0


class GatedSink:
    """Records events; holds the audio delta that comes once ``hold_after_ms`` of audio went out,
    until ``gate`` is set (the session's other events then wait their turn behind it)."""

    def __init__(self, hold_after_ms: int | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.hold_after_ms = hold_after_ms
        self.sent_ms = 0
        self.holding = asyncio.Event()
        self.gate = asyncio.Event()

    async def event(self, event: dict[str, Any]) -> None:
        if event["type"] == "response.output_audio.delta":
            if (
                self.hold_after_ms is not None
                and self.sent_ms >= self.hold_after_ms
                and not self.gate.is_set()
            ):
                self.holding.set()
                await self.gate.wait()
            self.sent_ms += len(base64.b64decode(event["delta"])) // 2 * MS_PER_S // AUDIO_RATE
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e["type"] for e in self.events]

    def first(self, kind: str) -> dict[str, Any]:
        return next(e for e in self.events if e["type"] == kind)

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


class Client:
    """Hands the session the frames the test puts, then None (it left) when told."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[str | None] = asyncio.Queue()

    def send(self, event: dict[str, Any]) -> None:
        self.frames.put_nowait(json.dumps(event))

    async def receive(self) -> str | None:
        return await self.frames.get()


Script = Callable[[RealtimeSession, Client], Awaitable[None]]


async def talk(runtime, sink: GatedSink, clock: FakeClock, script: Script) -> None:
    """Run a session on ``runtime`` while ``script`` plays the client; then the client leaves."""
    session = RealtimeSession(
        runtime,
        sink,
        limits=RequestLimits.from_settings(runtime.settings),
        metrics=Metrics(lambda: runtime),
        lifecycle=Lifecycle(),
        idle_timeout_s=IDLE_S,
        model="gpt-realtime",
        clock=clock,
    )
    client = Client()
    running = asyncio.create_task(session.run(client.receive))
    try:
        await script(session, client)
    finally:
        client.frames.put_nowait(None)
        await running
        await session.close()


def speech_24k(text: str) -> np.ndarray:
    """A recorded sentence at the protocol's 24 kHz."""
    samples, rate = spoken(text)
    times = np.arange(int(samples.size * AUDIO_RATE / rate)) / AUDIO_RATE
    return np.interp(times, np.arange(samples.size) / rate, samples).astype(np.float32)


def b64(samples: np.ndarray) -> str:
    return base64.b64encode(pcm16(samples)).decode()


def append(client: Client, samples: np.ndarray) -> None:
    client.send({"type": "input_audio_buffer.append", "audio": b64(samples)})
