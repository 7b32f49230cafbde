"""WS /v1/realtime driven by LiveKit Agents' own realtime client (livekit-plugins-openai's
``RealtimeModel`` and its ``RealtimeSession``), standalone: no room, no LiveKit server. espeak-ng
speech goes in as LiveKit audio frames, is heard by the real Whisper tiny.en, answered by the tiny
chat model and spoken by the tiny Orpheus; the assertions are on what LiveKit itself surfaces (its
transcription and generation events, the text and audio frames of its message streams)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
from livekit import rtc
from livekit.agents import llm
from livekit.plugins.openai.realtime import RealtimeModel
from openai.types.realtime.realtime_audio_input_turn_detection import ServerVad

from tests.rig.audio_samples import pcm16
from tests.server.realtime.wire import CHUNK_S, EVENT_TIMEOUT_S, MODEL, RATE, decoded, utterance, words

WEATHER = "What is the weather like today?"
# A short answer keeps each turn a few seconds of CPU; the tiny model never stops by itself.
REPLY_TOKENS = 24


@dataclass
class Heard:
    """What one LiveKit session surfaced: its events, in order, and the generations' contents."""

    session: Any
    events: list[dict] = field(default_factory=list)  # server events, as LiveKit received them
    errors: list[llm.RealtimeModelError] = field(default_factory=list)
    transcripts: list[llm.InputTranscriptionCompleted] = field(default_factory=list)
    final: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    generated: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    truncated: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def kinds(self) -> list[str]:
        return [event["type"] for event in self.events]

    def of(self, kind: str) -> list[dict]:
        return [event for event in self.events if event["type"] == kind]


@contextlib.asynccontextmanager
async def livekit_session(url: str, *, vad: bool, reply_tokens: int = REPLY_TOKENS):
    """A LiveKit RealtimeSession on our server, as an agent's would be (its defaults, our voice)."""
    async with aiohttp.ClientSession() as http:
        model = RealtimeModel(
            base_url=f"{url}/v1",
            api_key="unused",
            model=MODEL,
            voice="tara",
            turn_detection=ServerVad(type="server_vad", silence_duration_ms=500) if vad else None,
            http_session=http,
        )
        model.update_options(max_response_output_tokens=reply_tokens)
        session = model.session()
        heard = Heard(session)

        def on_server_event(event: dict) -> None:
            heard.events.append(event)
            if event["type"] == "conversation.item.truncated" and not heard.truncated.done():
                heard.truncated.set_result(event)

        def on_transcript(event: llm.InputTranscriptionCompleted) -> None:
            heard.transcripts.append(event)
            if event.is_final and not heard.final.done():
                heard.final.set_result(event)

        def on_generation(event: llm.GenerationCreatedEvent) -> None:
            if not heard.generated.done():
                heard.generated.set_result(event)

        session.on("openai_server_event_received", on_server_event)
        session.on("input_audio_transcription_completed", on_transcript)
        session.on("generation_created", on_generation)
        session.on("error", heard.errors.append)
        try:
            yield heard
        finally:
            await session.aclose()


def push_speech(session, samples: np.ndarray) -> None:
    """``samples`` as LiveKit audio frames of CHUNK_S each, as a room's microphone track gives them."""
    step = int(CHUNK_S * RATE)
    for start in range(0, samples.size, step):
        data = pcm16(samples[start : start + step])
        session.push_audio(
            rtc.AudioFrame(data=data, sample_rate=RATE, num_channels=1, samples_per_channel=len(data) // 2)
        )


@dataclass
class Reply:
    text: str
    frames: list[rtc.AudioFrame]
    modalities: list[str]


async def read_generation(generation: llm.GenerationCreatedEvent) -> list[Reply]:
    """Every message of a LiveKit generation, read to its end: its text stream and audio frames."""

    async def text_of(stream) -> str:
        return "".join([piece async for piece in stream])

    async def frames_of(stream) -> list[rtc.AudioFrame]:
        return [frame async for frame in stream]

    async def read() -> list[Reply]:
        replies = []
        async for message in generation.message_stream:
            text, frames = await asyncio.gather(text_of(message.text_stream), frames_of(message.audio_stream))
            replies.append(Reply(text, frames, list(await message.modalities)))
        return replies

    return await asyncio.wait_for(read(), EVENT_TIMEOUT_S)


async def within(future: asyncio.Future, what: str, heard: Heard):
    try:
        return await asyncio.wait_for(asyncio.shield(future), EVENT_TIMEOUT_S)
    except TimeoutError:
        raise AssertionError(f"LiveKit surfaced no {what} in {EVENT_TIMEOUT_S} s: {heard.kinds}") from None


def assert_spoken(reply: Reply, heard: Heard) -> None:
    """LiveKit's message is the server's answer: its text stream is the spoken transcript, and its
    audio frames (24 kHz mono) carry every sample of the server's audio deltas."""
    assert reply.modalities == ["audio", "text"]
    (done,) = heard.of("response.output_audio_transcript.done")
    assert reply.text == done["transcript"]
    assert all(f.sample_rate == RATE and f.num_channels == 1 for f in reply.frames)
    sent = sum(decoded(e["delta"]).size for e in heard.of("response.output_audio.delta"))
    assert sum(f.samples_per_channel for f in reply.frames) == sent
    if reply.text.strip():  # the random reply had something to say: it was spoken
        assert sent > 0


def test_livekit_hears_a_spoken_turn_and_receives_the_spoken_answer(realtime_url):
    async def scenario():
        async with livekit_session(realtime_url, vad=True) as heard:
            push_speech(heard.session, utterance(WEATHER))
            final = await within(heard.final, "final input transcription", heard)
            generation = await within(heard.generated, "generation", heard)
            return final, generation, await read_generation(generation), heard

    final, generation, replies, heard = asyncio.run(scenario())
    assert words(final.transcript) == words(WEATHER)
    assert not generation.user_initiated  # the server's VAD answered the turn, not generate_reply()
    assert [e.error for e in heard.errors] == []
    (reply,) = replies
    assert_spoken(reply, heard)
    assert "response.done" in heard.kinds
    # LiveKit's speech events came from the server's VAD, in order, before the answer.
    assert heard.kinds.index("input_audio_buffer.speech_started") < heard.kinds.index("response.created")


def test_livekit_generate_reply_answers_a_typed_user_message(realtime_url):
    async def scenario():
        async with livekit_session(realtime_url, vad=False) as heard:
            context = heard.session.chat_ctx.copy()
            context.add_message(role="user", content="Hi! How are you?")
            await asyncio.wait_for(heard.session.update_chat_ctx(context), EVENT_TIMEOUT_S)
            generation = await asyncio.wait_for(heard.session.generate_reply(), EVENT_TIMEOUT_S)
            return generation, await read_generation(generation), heard

    generation, replies, heard = asyncio.run(scenario())
    assert generation.user_initiated
    assert [e.error for e in heard.errors] == []
    (reply,) = replies
    assert_spoken(reply, heard)
    # The server's conversation holds the typed message, as LiveKit's remote copy of it shows.
    texts = [item.text_content for item in heard.session.chat_ctx.items if item.type == "message"]
    assert "Hi! How are you?" in texts


# A long answer, so that it is still being spoken when the agent interrupts it.
LONG_REPLY_TOKENS = 96
# What the agent says it played of the answer before the user spoke over it.
PLAYED_MS = 40


def test_livekit_interrupting_an_answer_cancels_it_and_truncates_it_to_what_was_played(realtime_url):
    """What LiveKit's AgentSession does on a barge-in it detects itself: ``interrupt()`` (a
    ``response.cancel``) and ``truncate()`` to the audio it played; its generation then ends."""

    async def scenario():
        async with livekit_session(realtime_url, vad=False, reply_tokens=LONG_REPLY_TOKENS) as heard:
            context = heard.session.chat_ctx.copy()
            context.add_message(role="user", content="Tell me a long story about a cat.")
            await asyncio.wait_for(heard.session.update_chat_ctx(context), EVENT_TIMEOUT_S)
            generation = await asyncio.wait_for(heard.session.generate_reply(), EVENT_TIMEOUT_S)

            async def interrupt_at_first_audio() -> tuple[str, list[rtc.AudioFrame]]:
                frames: list[rtc.AudioFrame] = []
                message_id = ""
                async for message in generation.message_stream:
                    message_id = message.message_id
                    async for frame in message.audio_stream:
                        if not frames:
                            heard.session.interrupt()
                            heard.session.truncate(
                                message_id=message.message_id, modalities=["audio"], audio_end_ms=PLAYED_MS
                            )
                        frames.append(frame)
                return message_id, frames

            (message_id, frames) = await asyncio.wait_for(interrupt_at_first_audio(), EVENT_TIMEOUT_S)
            truncated = await within(heard.truncated, "conversation.item.truncated", heard)
            return message_id, frames, truncated, heard

    message_id, frames, truncated, heard = asyncio.run(scenario())
    assert frames, "the answer was never spoken"
    assert [e.error for e in heard.errors] == []
    (done,) = heard.of("response.done")
    assert done["response"]["status"] == "cancelled"
    # The server honoured LiveKit's truncate of the answer it was streaming (its message ended
    # with the cancel: LiveKit closed the stream the loop above read).
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (message_id, PLAYED_MS)
