"""WS /v1/realtime driven by the openai SDK's own realtime client (``AsyncOpenAI.realtime.connect``):
espeak-ng speech streamed as 24 kHz pcm16, heard by the real Whisper tiny.en, answered by the tiny
chat model and spoken by the tiny Orpheus. Every server event is checked against the SDK's models."""

from __future__ import annotations

import asyncio

import numpy as np
import openai
import pytest

from tests.server.realtime.wire import (
    MODEL,
    assert_wellformed,
    chunks,
    decoded,
    sdk_recorder,
    speech,
    utterance,
    words,
)

WEATHER = "What is the weather like today?"
# A short answer keeps each turn a few seconds of CPU; the tiny model never stops by itself.
REPLY_TOKENS = 24


def _client(url: str, key: str = "unused") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


def _session(*, vad: bool = True, **extra) -> dict:
    detection = {"type": "server_vad", "silence_duration_ms": 500} if vad else None
    return {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": "You are a helpful assistant. Answer briefly.",
        "max_output_tokens": REPLY_TOKENS,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24_000},
                "transcription": {"model": "whisper-1"},
                "turn_detection": detection,
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24_000}, "voice": "tara"},
        },
        **extra,
    }


async def _append(connection, samples: np.ndarray) -> None:
    for chunk in chunks(samples):
        await connection.input_audio_buffer.append(audio=chunk)


def test_a_spoken_turn_goes_through_the_documented_events_in_order(realtime_url):
    async def scenario():
        async with _client(realtime_url).realtime.connect(model=MODEL) as connection:
            events = sdk_recorder(connection)
            created = await events.until("session.created")
            await connection.session.update(session=_session())
            updated = await events.until("session.updated")
            await _append(connection, utterance(WEATHER))
            heard = await events.until("conversation.item.input_audio_transcription.completed")
            done = await events.until("response.done")
            return created, updated, heard, done, events

    created, updated, heard, done, events = asyncio.run(scenario())
    assert created["session"]["type"] == "realtime"
    assert updated["session"]["audio"]["output"]["voice"] == "tara"
    assert updated["session"]["max_output_tokens"] == REPLY_TOKENS
    # The real Whisper heard the sentence word for word.
    assert words(heard["transcript"]) == words(WEATHER)
    order = [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    positions = [events.index(kind) for kind in order]
    assert positions == sorted(positions), events.types
    # The user's item is announced after the commit that made it, before the answer starts.
    user_item = events.index(
        "conversation.item.added"
        if "conversation.item.added" in events.types
        else "conversation.item.created"
    )
    assert events.index("input_audio_buffer.committed") < user_item < events.index("response.created")
    committed = events.of("input_audio_buffer.committed")[0]
    assert heard["item_id"] == committed["item_id"]
    # Speech started inside the audio sent, and stopped after the sentence (both in ms of input).
    started, stopped = (
        events.of("input_audio_buffer.speech_started")[0],
        events.of("input_audio_buffer.speech_stopped")[0],
    )
    assert 0 <= started["audio_start_ms"] < stopped["audio_end_ms"]
    assert stopped["audio_end_ms"] - started["audio_start_ms"] >= 1000 * speech(WEATHER).size / 24_000 - 500
    # The answer: audio deltas that decode as pcm16, with their transcript.
    response_id = done["response"]["id"]
    audio = [decoded(e["delta"]) for e in events.of("response.output_audio.delta")]
    assert all(e["response_id"] == response_id for e in events.of("response.output_audio.delta"))
    transcript_deltas = "".join(e["delta"] for e in events.of("response.output_audio_transcript.delta"))
    transcript = events.of("response.output_audio_transcript.done")[0]["transcript"]
    assert transcript == transcript_deltas
    if transcript.strip():  # the random reply had something to say: it was spoken
        assert audio and sum(a.size for a in audio) > 0
        assert events.index("response.output_audio.delta") < events.index("response.output_audio.done")
    assert done["response"]["status"] == "completed"
    usage = done["response"]["usage"]
    assert usage["output_tokens"] > 0 and usage["total_tokens"] >= usage["output_tokens"]
    assert_wellformed(events)


def test_with_server_vad_off_only_a_commit_ends_the_turn_and_only_response_create_answers(realtime_url):
    async def scenario():
        async with _client(realtime_url).realtime.connect(model=MODEL) as connection:
            events = sdk_recorder(connection)
            await events.until("session.created")
            await connection.session.update(session=_session(vad=False))
            await events.until("session.updated")
            # Trailing silence that server VAD would have taken for the end of the turn.
            await _append(connection, utterance(WEATHER))
            await connection.input_audio_buffer.commit()
            committed = await events.until("input_audio_buffer.committed")
            heard = await events.until("conversation.item.input_audio_transcription.completed")
            before_create = list(events.types)
            await connection.response.create(response={"max_output_tokens": 8})
            done = await events.until("response.done")
            return committed, heard, before_create, done, events

    committed, heard, before_create, done, events = asyncio.run(scenario())
    assert "input_audio_buffer.speech_started" not in events.types
    assert "response.created" not in before_create
    assert words(heard["transcript"]) == words(WEATHER) and heard["item_id"] == committed["item_id"]
    # The per-response override capped this answer below the session's cap.
    assert done["response"]["status"] == "completed"
    # output_tokens counts the speech's tokens too, as OpenAI's does: the cap is on the text.
    assert done["response"]["max_output_tokens"] == 8
    assert 0 < done["response"]["usage"]["output_token_details"]["text_tokens"] <= 8
    assert_wellformed(events)


def test_a_typed_user_message_is_answered_in_text_when_the_response_asks_for_text(realtime_url):
    async def scenario():
        async with _client(realtime_url).realtime.connect(model=MODEL) as connection:
            events = sdk_recorder(connection)
            await events.until("session.created")
            await connection.session.update(session=_session(vad=False))
            await events.until("session.updated")
            await connection.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi!"}]}
            )
            await connection.response.create(response={"output_modalities": ["text"]})
            done = await events.until("response.done")
            return done, events

    done, events = asyncio.run(scenario())
    assert done["response"]["status"] == "completed"
    assert "response.output_audio.delta" not in events.types
    text = "".join(e["delta"] for e in events.of("response.output_text.delta"))
    assert text == events.of("response.output_text.done")[0]["text"]
    assert_wellformed(events)


def test_a_clear_drops_the_audio_appended_so_far(realtime_url):
    async def scenario():
        async with _client(realtime_url).realtime.connect(model=MODEL) as connection:
            events = sdk_recorder(connection)
            await events.until("session.created")
            await connection.session.update(session=_session(vad=False))
            await events.until("session.updated")
            await _append(connection, speech("Turn on the kitchen lights, please."))
            await connection.input_audio_buffer.clear()
            await events.until("input_audio_buffer.cleared")
            await _append(connection, speech(WEATHER))
            await connection.input_audio_buffer.commit()
            return await events.until("conversation.item.input_audio_transcription.completed"), events

    heard, events = asyncio.run(scenario())
    assert words(heard["transcript"]) == words(WEATHER)
    assert_wellformed(events)


def test_a_transcription_session_streams_transcripts_and_never_answers(realtime_url):
    """OpenAI's transcription intent: a live microphone transcribed with VAD, no reply."""

    async def scenario():
        connect = _client(realtime_url).realtime.connect(extra_query={"intent": "transcription"})
        async with connect as connection:
            events = sdk_recorder(connection)
            await events.until("session.created")
            await connection.session.update(
                session={
                    "type": "transcription",
                    "audio": {
                        "input": {
                            "format": {"type": "audio/pcm", "rate": 24_000},
                            "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                        }
                    },
                }
            )
            await events.until("session.updated")
            first = await _heard(connection, events, WEATHER)
            second = await _heard(connection, events, "What time is it?")
            return first, second, events

    first, second, events = asyncio.run(scenario())
    assert words(first["transcript"]) == words(WEATHER)
    assert words(second["transcript"]) == words("What time is it?")
    assert first["item_id"] != second["item_id"]
    assert not any(kind.startswith("response.") for kind in events.types), events.types
    deltas = [
        e
        for e in events.of("conversation.item.input_audio_transcription.delta")
        if e["item_id"] == first["item_id"]
    ]
    if deltas:  # streamed: the deltas add up to the transcript
        assert "".join(d["delta"] for d in deltas).strip() == first["transcript"].strip()
    assert_wellformed(events)


async def _heard(connection, events, text: str) -> dict:
    await _append(connection, utterance(text))
    return await events.until("conversation.item.input_audio_transcription.completed")


@pytest.mark.parametrize("kind", ["server_vad", "semantic_vad"])
def test_the_session_says_which_turn_detection_it_runs(realtime_url, kind):
    """semantic_vad needs a model of the user's thought that we do not have: the server VAD serves it
    (docs/realtime.md), and session.updated says so rather than claim a semantic model."""

    async def scenario():
        async with _client(realtime_url).realtime.connect(model=MODEL) as connection:
            events = sdk_recorder(connection)
            await events.until("session.created")
            session = _session()
            session["audio"]["input"]["turn_detection"] = {"type": kind}
            await connection.session.update(session=session)
            return await events.until("session.updated", allow_errors=True), events

    answer, events = asyncio.run(scenario())
    assert answer["type"] == "session.updated", answer
    assert answer["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert_wellformed(events)
