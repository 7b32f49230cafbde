"""The Realtime session without a transport: a scripted client, a sink that can hold an audio
delta (a client reading slowly) and a clock the test moves, so that barge-in, cancellation and
the estimate of what the listener heard are tested without racing the models."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from coordinator.server.realtime.config import AUDIO_RATE
from coordinator.server.realtime.session import RealtimeSession
from tests.rig.audio_samples import silence
from tests.rig.clock import FakeClock
from tests.rig.waiting import eventually_async
from tests.server.realtime.scripted import MS_PER_S, Client, GatedSink, append, speech_24k, talk

HEARD_S = 0.2  # the listener played this much before speaking over the answer


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return speech_24k("Hello there. Tell me a story about a cat.")


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
        append(client, speech[: int(1.5 * AUDIO_RATE)])
        await eventually_async(lambda: session.hearing_speech, "the user's speech heard")
        sink.gate.set()
        await eventually_async(lambda: "conversation.item.truncated" in sink.kinds(), "the answer truncated")

    asyncio.run(talk(runtime, sink, clock, script))
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

    asyncio.run(talk(runtime, sink, clock, script))
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
        append(client, np.concatenate([silence(0.3, AUDIO_RATE), speech, silence(1.2, AUDIO_RATE)]))
        await eventually_async(lambda: "response.done" in sink.kinds(), "the answer")

    asyncio.run(talk(runtime, sink, clock, script))
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
