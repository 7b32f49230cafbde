"""The Realtime session without a transport: a scripted client, a sink that can hold an audio
delta (a client reading slowly) and a clock the test moves, so that barge-in, cancellation and
the estimate of what the listener heard are tested without racing the models."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import numpy as np
import pytest

from coordinator.server.realtime.config import AUDIO_RATE
from coordinator.server.realtime.session import RealtimeSession
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from tests.rig.audio_samples import pcm16, silence, spoken
from tests.rig.clock import FakeClock
from tests.rig.waiting import eventually_async

MS_PER_S = 1000
IDLE_S = 120.0
HEARD_S = 0.2  # the listener played this much before speaking over the answer


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


class Client:
    """Hands the session the frames the test puts, then None (it left) when told."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[str | None] = asyncio.Queue()

    def send(self, event: dict[str, Any]) -> None:
        self.frames.put_nowait(json.dumps(event))

    async def receive(self) -> str | None:
        return await self.frames.get()


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    samples, rate = spoken("Hello there. Tell me a story about a cat.")
    times = np.arange(int(samples.size * AUDIO_RATE / rate)) / AUDIO_RATE
    return np.interp(times, np.arange(samples.size) / rate, samples).astype(np.float32)


def _append(client: Client, samples: np.ndarray) -> None:
    client.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm16(samples)).decode()})


async def _talk(runtime, sink: GatedSink, clock: FakeClock, script) -> None:
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


def _ask(client: Client, text: str) -> None:
    content = [{"type": "input_text", "text": text}]
    client.send(
        {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": content}}
    )
    client.send({"type": "response.create", "response": {"max_output_tokens": 48}})


def test_speech_during_a_response_cancels_it_and_keeps_only_what_was_heard(runtime, speech):
    sink, clock = GatedSink(hold_after_ms=300), FakeClock()

    async def script(session: RealtimeSession, client: Client) -> None:
        _ask(client, "Tell me a story.")
        await eventually_async(sink.holding.is_set, "300 ms of the answer sent")
        clock.advance(HEARD_S)  # the listener has played 200 ms of it when they speak
        _append(client, speech[: int(1.5 * AUDIO_RATE)])
        await eventually_async(lambda: session.hearing_speech, "the user's speech heard")
        sink.gate.set()
        await eventually_async(lambda: "conversation.item.truncated" in sink.kinds(), "the answer truncated")

    asyncio.run(_talk(runtime, sink, clock, script))
    kinds = sink.kinds()
    started = kinds.index("input_audio_buffer.speech_started")
    assert kinds[started + 1 : started + 3] == ["response.done", "conversation.item.truncated"]
    done = sink.events[started + 1]["response"]
    assert done["status"] == "cancelled" and done["status_details"] == {
        "type": "cancelled",
        "reason": "turn_detected",
    }
    truncated = sink.first("conversation.item.truncated")
    assert truncated["audio_end_ms"] == HEARD_S * MS_PER_S and truncated["item_id"] == done["output"][0]["id"]
    written = "".join(
        e["delta"] for e in sink.events if e["type"] == "response.output_audio_transcript.delta"
    )
    heard = done["output"][0]["content"][0]["transcript"]
    assert len(heard) < len(written.strip()) or not written.strip()
    assert "response.output_audio.done" not in kinds  # a cancelled response ends with response.done alone


def test_the_clients_cancel_stops_the_response_at_once(runtime):
    sink, clock = GatedSink(hold_after_ms=0), FakeClock()

    async def script(session: RealtimeSession, client: Client) -> None:
        _ask(client, "Tell me a story.")
        await eventually_async(sink.holding.is_set, "the answer's first audio")
        client.send({"type": "response.cancel"})  # the held delta is never sent
        await eventually_async(lambda: "response.done" in sink.kinds(), "the response ended")

    asyncio.run(_talk(runtime, sink, clock, script))
    done = sink.first("response.done")["response"]
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert (
        "response.output_audio.delta" not in sink.kinds()
        and "conversation.item.truncated" not in sink.kinds()
    )


def test_server_vad_commits_a_spoken_turn_and_answers_it(runtime, speech):
    sink, clock = GatedSink(), FakeClock()

    async def script(session: RealtimeSession, client: Client) -> None:
        client.send(
            {"type": "session.update", "session": {"max_output_tokens": 16, "input_audio_transcription": {}}}
        )
        _append(client, np.concatenate([silence(0.3, AUDIO_RATE), speech, silence(1.2, AUDIO_RATE)]))
        await eventually_async(lambda: "response.done" in sink.kinds(), "the answer")

    asyncio.run(_talk(runtime, sink, clock, script))
    kinds = sink.kinds()
    order = [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "response.created",
    ]
    assert [kinds.index(kind) for kind in order] == sorted(kinds.index(kind) for kind in order)
    stopped = sink.first("input_audio_buffer.speech_stopped")
    assert sink.first("input_audio_buffer.committed")["item_id"] == stopped["item_id"]
    assert stopped["audio_end_ms"] > sink.first("input_audio_buffer.speech_started")["audio_start_ms"]
    transcribed = kinds.index("conversation.item.input_audio_transcription.completed")
    assert transcribed < kinds.index("response.output_item.added")  # the answer reads the transcript
    assert sink.first("response.done")["response"]["status"] == "completed"
