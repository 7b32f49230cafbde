"""Barge-in as OpenAI's Realtime protocol defines it, over the openai SDK's client: speech detected
while the assistant answers cancels the answer (``response.done`` with status ``cancelled``), the
client truncates the assistant's item to what it played (``conversation.item.truncate``), and the
next turn is heard and answered."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import openai

from tests.server.realtime.wire import (
    MODEL,
    RATE,
    assert_wellformed,
    chunks,
    decoded,
    sdk_recorder,
    speech,
    utterance,
    words,
)

log = logging.getLogger(__name__)

FIRST = "Hello there. Tell me a story about a cat."
SECOND = "What time is it?"
# A long answer, so that the user talks over it.
REPLY_TOKENS = 96
# The bound on a barge-in, in audio rather than seconds (tests/rig/waiting.py): once the server has
# said it heard the user start (speech_started), the cancelled answer sends at most this much more
# audio. Half a second is what a speaker hears at most after starting to talk over the assistant.
BARGE_IN_AUDIO_S = 0.5
# What the client says it played of the cancelled answer before the user spoke.
PLAYED_MS = 40


def _session() -> dict:
    return {
        "type": "realtime",
        "max_output_tokens": REPLY_TOKENS,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": RATE},
                "transcription": {"model": "whisper-1"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
            },
            "output": {"voice": "tara"},
        },
    }


async def _append(connection, samples: np.ndarray) -> None:
    for chunk in chunks(samples):
        await connection.input_audio_buffer.append(audio=chunk)


def test_speech_during_an_answer_cancels_it_and_the_next_turn_is_answered(realtime_url):
    async def scenario():
        client = openai.AsyncOpenAI(base_url=f"{realtime_url}/v1", api_key="unused", max_retries=0)
        async with client.realtime.connect(model=MODEL) as connection:
            events = sdk_recorder(connection)
            await events.until("session.created")
            await connection.session.update(session=_session())
            await events.until("session.updated")
            await _append(connection, utterance(FIRST))
            first_audio = await events.until("response.output_audio.delta")  # the answer is being spoken
            mark = len(events.events)
            await _append(connection, speech(SECOND))  # the user talks over it
            started = await events.until("input_audio_buffer.speech_started")
            cancelled = await events.until("response.done")
            await _append(connection, np.zeros(int(1.5 * RATE), np.float32))
            heard = await events.until("conversation.item.input_audio_transcription.completed")
            # The client played PLAYED_MS of the answer: the item is cut there.
            await connection.conversation.item.truncate(
                item_id=first_audio["item_id"], content_index=0, audio_end_ms=PLAYED_MS
            )
            truncated = await events.until("conversation.item.truncated")
            answered = await events.until("response.done")
            return first_audio, mark, started, cancelled, heard, truncated, answered, events

    first_audio, mark, started, cancelled, heard, truncated, answered, events = asyncio.run(scenario())
    response_id = first_audio["response_id"]
    assert cancelled["response"]["id"] == response_id
    assert cancelled["response"]["status"] == "cancelled"
    assert cancelled["response"]["status_details"]["reason"] == "turn_detected"
    assert events.events.index(started) >= mark
    after_started = events.events[events.events.index(started) :]
    late = [
        decoded(e["delta"]).size
        for e in after_started
        if e["type"] == "response.output_audio.delta" and e["response_id"] == response_id
    ]
    log.info(
        "barge-in: %.3f s of audio after speech_started, %.3f s from speech_started to response.done",
        sum(late) / RATE,
        events.times[events.events.index(cancelled)] - events.times[events.events.index(started)],
    )
    assert sum(late) <= BARGE_IN_AUDIO_S * RATE, f"{sum(late) / RATE:.2f} s of audio after the user spoke"
    assert words(heard["transcript"]) == words(SECOND)
    assert truncated["item_id"] == first_audio["item_id"] and truncated["audio_end_ms"] == PLAYED_MS
    assert answered["response"]["id"] != response_id and answered["response"]["status"] == "completed"
    assert_wellformed(events)


def test_a_truncation_past_the_audio_sent_is_an_error_and_the_session_goes_on(realtime_url):
    async def scenario():
        client = openai.AsyncOpenAI(base_url=f"{realtime_url}/v1", api_key="unused", max_retries=0)
        async with client.realtime.connect(model=MODEL) as connection:
            events = sdk_recorder(connection)
            await events.until("session.created")
            session = _session()
            session["max_output_tokens"] = 24
            session["audio"]["input"]["turn_detection"] = None
            await connection.session.update(session=session)
            await events.until("session.updated")
            await connection.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi!"}]}
            )
            await connection.response.create()
            done = await events.until("response.done")
            item = done["response"]["output"][0]["id"]
            sent_ms = (
                1000 * sum(decoded(e["delta"]).size for e in events.of("response.output_audio.delta")) // RATE
            )
            await connection.conversation.item.truncate(
                item_id=item, content_index=0, audio_end_ms=sent_ms + 60_000, event_id="too-far"
            )
            refused = await events.until("error")
            await connection.conversation.item.truncate(item_id=item, content_index=0, audio_end_ms=0)
            truncated = await events.until("conversation.item.truncated")
            return refused, truncated, events

    refused, truncated, events = asyncio.run(scenario())
    assert refused["error"]["type"] == "invalid_request_error"
    assert refused["error"]["event_id"] == "too-far" and "audio_end_ms" in refused["error"]["message"]
    assert truncated["audio_end_ms"] == 0
    assert_wellformed(events)
