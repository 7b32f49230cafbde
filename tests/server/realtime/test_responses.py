"""Responses beside the conversation's: out of band (``conversation: "none"``), which write
nothing to the conversation and may run while it answers, cancelled by id; and a turn that ends
while the model answers with ``interrupt_response`` off, which gets no response of its own (as
OpenAI documents: "this may fail to create a response if the model is already responding")."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from coordinator.server.realtime.config import AUDIO_RATE
from coordinator.server.realtime.session import RealtimeSession
from tests.rig.audio_samples import silence
from tests.rig.clock import FakeClock
from tests.rig.waiting import eventually_async
from tests.server.realtime.scripted import Client, GatedSink, append, speech_24k, talk

TOKENS = 16


def _user(client: Client, text: str) -> None:
    content = [{"type": "input_text", "text": text}]
    client.send(
        {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": content}}
    )


def _done(sink: GatedSink, count: int) -> bool:
    return len(sink.all("response.done")) >= count


def test_an_out_of_band_response_runs_beside_the_conversations_and_joins_no_conversation(runtime):
    sink, clock = GatedSink(), FakeClock()
    out_of_band = {
        "conversation": "none",
        "metadata": {"purpose": "classify"},
        "output_modalities": ["text"],
        "max_output_tokens": TOKENS,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Happy?"}]}],
    }

    async def script(session: RealtimeSession, client: Client) -> None:
        _user(client, "Tell me a story.")
        client.send({"type": "response.create", "response": {"max_output_tokens": TOKENS}})
        client.send({"type": "response.create", "response": out_of_band})  # while the first runs
        await eventually_async(lambda: _done(sink, 2), "both responses done")
        assert len(session.items) == 2  # the user's item and the conversation's answer only

    asyncio.run(talk(runtime, sink, clock, script))
    assert "error" not in sink.kinds()
    created = [e["response"]["id"] for e in sink.all("response.created")]
    done = {e["response"]["id"]: e["response"] for e in sink.all("response.done")}
    assert set(done) == set(created) and len(created) == 2
    side = done[created[1]]
    assert side["metadata"] == {"purpose": "classify"} and side["conversation_id"] is None
    assert side["status"] == "completed" and side["output_modalities"] == ["text"]
    side_item = side["output"][0]["id"]
    announced = {e["item"]["id"] for e in sink.events if e["type"].startswith("conversation.item.")}
    assert side_item not in announced  # only the response.* events carry it
    assert any(e["item"]["id"] == side_item for e in sink.all("response.output_item.done"))
    assert done[created[0]]["output"][0]["id"] in announced


def test_a_cancel_names_the_out_of_band_response_it_stops(runtime):
    sink, clock = GatedSink(hold_after_ms=0), FakeClock()

    async def script(session: RealtimeSession, client: Client) -> None:
        _user(client, "Tell me a story.")
        client.send({"type": "response.create", "response": {"conversation": "none"}})
        await eventually_async(sink.holding.is_set, "the out-of-band answer's first audio")
        side = sink.first("response.created")["response"]["id"]  # sent before the held audio
        client.send({"type": "response.cancel", "response_id": side})  # the held delta is never sent
        await eventually_async(lambda: _done(sink, 1), "the response ended")
        client.send({"type": "response.cancel"})  # none in the conversation: refused
        client.send({"type": "response.cancel", "response_id": side})  # it is over: refused
        await eventually_async(lambda: len(sink.all("error")) == 2, "both cancels refused")

    asyncio.run(talk(runtime, sink, clock, script))
    assert [e["error"]["code"] for e in sink.all("error")] == ["response_cancel_not_active"] * 2
    done = sink.first("response.done")["response"]
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert "response.output_audio.delta" not in sink.kinds()


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return speech_24k("Hello there. Tell me a story about a cat.")


def test_a_turn_ended_during_an_answer_without_interrupt_response_gets_no_response_of_its_own(
    runtime, speech
):
    sink, clock = GatedSink(hold_after_ms=0), FakeClock()
    vad = {"type": "server_vad", "create_response": True, "interrupt_response": False}

    async def script(session: RealtimeSession, client: Client) -> None:
        client.send({"type": "session.update", "session": {"audio": {"input": {"turn_detection": vad}}}})
        _user(client, "Tell me a story.")
        client.send({"type": "response.create", "response": {"max_output_tokens": TOKENS}})
        await eventually_async(sink.holding.is_set, "the answer's first audio")
        append(client, np.concatenate([speech, silence(1.2, AUDIO_RATE)]))  # a whole turn, mid-answer
        await eventually_async(lambda: session.hearing_speech or "error" in sink.kinds(), "the turn heard")
        sink.gate.set()
        await eventually_async(
            lambda: _done(sink, 1) and "error" in sink.kinds(), "the answer and the refusal"
        )

    asyncio.run(talk(runtime, sink, clock, script))
    kinds = sink.kinds()
    assert kinds.count("response.created") == 1
    assert sink.first("response.done")["response"]["status"] == "completed"  # not interrupted
    assert kinds.index("input_audio_buffer.committed") < kinds.index("error")
    assert sink.first("error")["error"]["code"] == "conversation_already_has_active_response"
    committed = sink.first("input_audio_buffer.committed")["item_id"]
    assert any(e["item"]["id"] == committed for e in sink.all("conversation.item.added"))  # the turn is kept


def test_an_out_of_band_response_over_the_socket_in_the_beta_dialect(client):
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello there."}]}
    side = {"conversation": "none", "modalities": ["text"], "max_response_output_tokens": TOKENS}
    with client.websocket_connect("/v1/realtime", headers={"OpenAI-Beta": "realtime=v1"}) as ws:
        assert ws.receive_json()["type"] == "session.created"
        ws.send_json({"type": "conversation.item.create", "item": item})
        ws.send_json({"type": "response.create", "response": side})
        seen = []
        while not seen or seen[-1]["type"] != "response.done":
            seen.append(ws.receive_json())
            assert seen[-1]["type"] != "error", seen[-1]
    kinds = [e["type"] for e in seen]
    assert kinds.count("conversation.item.created") == 1  # the user's item; the answer joins none
    assert "response.text.delta" in kinds and seen[-1]["response"]["conversation_id"] is None
