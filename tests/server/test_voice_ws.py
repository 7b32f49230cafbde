"""/v1/voice/ws on a real server over loopback: espeak-ng speech in, VAD, the tiny random Whisper,
the tiny chat model and Orpheus, speech out, and barge-in. Words are meaningless; events are not."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest
import websockets

from coordinator.server.app import create_app
from coordinator.stt.audio import decode_audio
from tests.rig.audio_samples import encode, noise_bursts, pcm16, silence, spoken
from tests.rig.waiting import eventually
from tests.server.conftest import serving

RATE = 16_000
CHUNK_S = 0.1
EVENT_TIMEOUT_S = 60
# MAX_COMPLETION_TOKENS of the capped server: under the chat reply's default (256) and the rig's
# TTS_MAX_TOKENS, and long enough for an utterance to be heard.
TOKEN_CAP = 64
# A short idle timeout, so that the test waits for nothing.
SHORT_IDLE_S = 0.05


@pytest.fixture(scope="module")
def sentence() -> np.ndarray:
    samples, rate = spoken("Hello there. Tell me a story about a cat.")
    return decode_audio(encode(samples, rate, "wav"), max_seconds=60)


def _ws_url(live_url: str, **query) -> str:
    params = "&".join(f"{k}={v}" for k, v in {"language": "en", "seed": 1, **query}.items())
    return live_url.replace("http://", "ws://") + f"/v1/voice/ws?{params}"


async def _send_audio(ws, samples: np.ndarray, rate: int = RATE) -> None:
    """Send in 100 ms chunks, as a microphone's frames arrive (without its pauses)."""
    step = int(CHUNK_S * rate)
    for start in range(0, samples.size, step):
        await ws.send(pcm16(samples[start : start + step]))


async def _until(ws, kind: str, seen: list, binary: list | None = None) -> dict:
    """Read messages until an event of ``kind``; record every event type (and binary sizes)."""
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while True:
        message = await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(message, bytes):
            if binary is not None:
                binary.append(len(message))
            seen.append("<audio>")
            continue
        event = json.loads(message)
        seen.append(event["type"])
        if event["type"] == kind:
            return event
        assert event["type"] != "error", event


def test_a_spoken_turn_is_heard_transcribed_answered_and_spoken_back(live_url, sentence, runtime):
    async def scenario():
        seen, binary = [], []
        async with websockets.connect(_ws_url(live_url)) as ws:
            created = json.loads(await ws.recv())
            # The user is still speaking (no trailing silence yet) when the partial transcript
            # comes back: waited for, not given time by pacing the audio.
            await _send_audio(ws, np.concatenate([silence(0.5, RATE), sentence]))
            await _until(ws, "transcript.partial", seen)
            await _send_audio(ws, silence(1.2, RATE))
            final = await _until(ws, "transcript.final", seen)
            done = await _until(ws, "reply.done", seen, binary)
        return created, seen, binary, final, done

    created, seen, binary, final, done = asyncio.run(scenario())
    assert created["type"] == "session.created"
    assert created["output"] == {"format": "pcm_s16le", "sample_rate": 24000, "channels": 1}
    assert seen.index("speech.started") < seen.index("speech.stopped") < seen.index("transcript.final")
    assert final["text"] and final["language"] == "en"
    # A three-second sentence: at least one partial transcript while it was spoken.
    assert "transcript.partial" in seen[: seen.index("transcript.final")]
    assert "reply.delta" in seen
    if binary:  # the random reply had a sentence to speak
        assert seen.index("audio.start") < seen.index("<audio>") < seen.index("audio.end")
        assert all(size % 2 == 0 for size in binary)
    assert isinstance(done["text"], str)
    _engines_idle(runtime)


def test_speaking_while_the_assistant_answers_cancels_the_answer(live_url, sentence, runtime):
    async def scenario():
        seen = []
        async with websockets.connect(_ws_url(live_url)) as ws:
            await ws.recv()
            await _send_audio(ws, np.concatenate([sentence, silence(1.2, RATE)]))
            await _until(ws, "transcript.final", seen)
            await _until(ws, "reply.delta", seen)  # the answer is under way
            await _send_audio(ws, sentence[:RATE])  # the user talks over it
            cancelled = await _until(ws, "response.cancelled", seen)
            started = await _until(ws, "speech.started", seen)
        return cancelled, started, seen

    cancelled, started, seen = asyncio.run(scenario())
    assert cancelled["reason"] == "barge_in" and started["type"] == "speech.started"
    assert "reply.done" not in seen[seen.index("speech.started", seen.index("reply.delta")) :]
    _engines_idle(runtime)


def test_noise_bursts_are_not_a_turn_and_commit_ends_a_turn_at_once(live_url, sentence):
    async def scenario():
        seen = []
        async with websockets.connect(_ws_url(live_url)) as ws:
            await ws.recv()
            await _send_audio(ws, np.concatenate([noise_bursts(RATE, bursts=4), silence(1.0, RATE)]))
            await _send_audio(ws, sentence)  # no silence after: only the commit ends the turn
            await ws.send(json.dumps({"type": "input_audio.commit"}))
            await _until(ws, "transcript.final", seen)
            await ws.send(json.dumps({"type": "response.cancel"}))
            await _until(ws, "response.cancelled", seen)
        return seen

    seen = asyncio.run(scenario())
    assert seen.count("speech.started") == 1  # the sentence, not the noise


def test_microphone_audio_at_48_khz_is_resampled(live_url, sentence):
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=48_000)
    frame = av.AudioFrame.from_ndarray(sentence.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = RATE
    high = np.concatenate([f.to_ndarray().reshape(-1) for f in resampler.resample(frame)])

    async def scenario():
        seen = []
        async with websockets.connect(_ws_url(live_url, sample_rate=48_000)) as ws:
            created = json.loads(await ws.recv())
            await _send_audio(ws, np.concatenate([high, silence(1.2, 48_000)]), rate=48_000)
            final = await _until(ws, "speech.stopped", seen)
        return created, final

    created, stopped = asyncio.run(scenario())
    assert created["input"]["sample_rate"] == 48_000
    assert stopped["duration"] == pytest.approx(sentence.size / RATE + 0.7, abs=0.6)


def test_bad_settings_and_bad_messages_get_error_events(live_url):
    async def scenario():
        async with websockets.connect(_ws_url(live_url, sample_rate="fast")) as ws:
            refused = json.loads(await ws.recv())
            await asyncio.wait_for(ws.wait_closed(), timeout=10)
            code = ws.close_code
        async with websockets.connect(_ws_url(live_url)) as ws:
            await ws.recv()
            await ws.send("hello?")
            unknown = json.loads(await ws.recv())
            await ws.send(b"\x00")  # half a sample
            odd = json.loads(await ws.recv())
        return refused, code, unknown, odd

    refused, code, unknown, odd = asyncio.run(scenario())
    assert refused["type"] == "error" and refused["error"]["param"] == "sample_rate" and code == 1008
    assert unknown["type"] == "error" and unknown["error"]["param"] == "type"
    assert odd["type"] == "error" and "odd number of bytes" in odd["error"]["message"]


def test_a_bad_message_is_an_error_event_and_the_conversation_goes_on(live_url, sentence):
    """200,000 brackets raised a RecursionError: internal_error and close 1011. Now JSON too deep,
    text that is not JSON and half a sample are each named, and the session hears the next turn."""

    async def scenario():
        seen = []
        async with websockets.connect(_ws_url(live_url)) as ws:
            await ws.recv()
            errors = []
            for bad in ("[" * 200_000, "{oops", b"\x00"):
                await ws.send(bad)
                errors.append(json.loads(await ws.recv()))
            await _send_audio(ws, sentence)
            await ws.send(json.dumps({"type": "input_audio.commit"}))
            final = await _until(ws, "transcript.final", seen)
        return errors, final

    (deep, broken, odd), final = asyncio.run(scenario())
    assert deep["type"] == "error" and "nested too deeply" in deep["error"]["message"]
    assert "is not JSON" in broken["error"]["message"] and "odd number of bytes" in odd["error"]["message"]
    assert all(e["error"]["code"] != "internal_error" for e in (deep, broken, odd))
    assert final["text"]


@pytest.fixture(scope="module")
def capped(settings, runtime):
    """A second server over the same runtime, with MAX_COMPLETION_TOKENS=TOKEN_CAP: yields
    (app, base URL)."""
    app = create_app(settings.model_copy(update={"max_completion_tokens": TOKEN_CAP}), runtime=runtime)
    with serving(app) as url:
        yield app, url


async def _one_turn(url: str, sentence: np.ndarray, seen: list, binary: list, **query) -> dict:
    """Connect, speak ``sentence`` (committed at once), and return ``reply.done``."""
    async with websockets.connect(_ws_url(url, **query)) as ws:
        seen.append(json.loads(await ws.recv())["type"])
        await _send_audio(ws, sentence)
        await ws.send(json.dumps({"type": "input_audio.commit"}))
        return await _until(ws, "reply.done", seen, binary)


def test_the_answer_is_capped_as_every_door_caps_and_counted_under_its_own_label(
    capped, sentence, runtime, monkeypatch
):
    """MAX_COMPLETION_TOKENS bounds the chat reply and each spoken utterance, as on /chat; the
    speech is in the metrics under endpoint="voice_ws" (first audio, utterances, seconds)."""
    app, url = capped
    chat_caps, speech_caps = [], []
    chat_request, utterance_request = runtime.llm.chat_request, runtime.tts.utterance_request

    def recording_chat(messages, params):
        chat_caps.append(params.max_tokens)
        return chat_request(messages, params)

    def recording_utterance(text, voice, params):
        speech_caps.append(params.max_tokens)
        return utterance_request(text, voice, params)

    monkeypatch.setattr(runtime.llm, "chat_request", recording_chat)
    monkeypatch.setattr(runtime.tts, "utterance_request", recording_utterance)
    registry = app.state.metrics.registry
    voice_ws = {"endpoint": "voice_ws"}

    def sample(name: str, **labels) -> float:
        return registry.get_sample_value(name, {**voice_ws, **labels}) or 0.0

    first_before = sample("orpheus_speech_time_to_first_audio_seconds_count")
    seen, binary = [], []
    done = asyncio.run(_one_turn(url, sentence, seen, binary))
    assert done["text"] and binary, seen  # seed 1: the reply has words, and they were spoken
    assert chat_caps == [TOKEN_CAP] and speech_caps and set(speech_caps) == {TOKEN_CAP}
    assert sample("orpheus_speech_time_to_first_audio_seconds_count") == first_before + 1
    spoken_utterances = sum(
        sample("orpheus_speech_utterances_total", finish_reason=reason) for reason in ("stop", "length")
    )
    assert spoken_utterances >= 1 and sample("orpheus_speech_audio_seconds_total") > 0
    _engines_idle(runtime)


def test_a_silent_session_is_closed_after_the_idle_timeout_naming_it(capped, monkeypatch):
    app, url = capped
    monkeypatch.setattr(app.state, "voice_idle_timeout_s", SHORT_IDLE_S)

    async def scenario():
        async with websockets.connect(_ws_url(url)) as ws:
            created = json.loads(await ws.recv())
            closed = json.loads(await asyncio.wait_for(ws.recv(), timeout=EVENT_TIMEOUT_S))
            await asyncio.wait_for(ws.wait_closed(), timeout=EVENT_TIMEOUT_S)
            return created, closed, ws.close_code

    created, closed, code = asyncio.run(scenario())
    assert created["type"] == "session.created" and closed["type"] == "error" and code == 1008
    assert f"nothing arrived for {SHORT_IDLE_S:g} s" in closed["error"]["message"]


def test_a_voice_or_model_this_server_does_not_have_is_refused_naming_it(live_url):
    async def refused(**query):
        async with websockets.connect(_ws_url(live_url, **query)) as ws:
            error = json.loads(await ws.recv())
            await asyncio.wait_for(ws.wait_closed(), timeout=10)
            return error, ws.close_code

    voice, voice_code = asyncio.run(refused(voice="nobody"))
    model, _ = asyncio.run(refused(voice="tara", model="no-such-model"))
    assert voice["type"] == "error" and voice["error"]["param"] == "voice" and voice_code == 1008
    assert "nobody" in voice["error"]["message"]
    assert model["type"] == "error" and model["error"]["code"] == "model_not_found"


def _engines_idle(runtime) -> None:
    eventually(
        lambda: (
            not runtime.llm.engine.kv_cells_in_use()
            and not runtime.tts.engine.kv_cells_in_use()
            and runtime.stt.busy == 0
        ),
        "every sequence and transcription slot was given back",
    )
