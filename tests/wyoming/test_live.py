"""The Wyoming port of a live server, driven with the wyoming package's own client on loopback."""

import asyncio
import json
import time

import httpx
import numpy as np
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event, async_read_event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.service.jobs import MAX_PENDING_JOBS
from coordinator.text.sentences import utterances
from tests.rig.waiting import eventually
from tests.wyoming.conftest import WYOMING_SEED, error_after

HOME_ASSISTANT_DESCRIBE_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 60
# The rig's TTS_MAX_TOKENS=140 and its random model never stops early: 20 frames per utterance.
UTTERANCE_SAMPLES = 140 // 7 * SAMPLES_PER_FRAME
# Over one utterance's 250 characters: the HTTP API speaks it as two utterances, joined.
LONG_TEXT = (
    "The kitchen lights are on and the oven is warming up for dinner tonight. "
    "The front door is locked, the garage door is closed, and the porch light turns on at dusk. "
    "Tomorrow will be sunny with a light breeze from the west. "
    "Your first meeting starts at nine, so the alarm is set for seven."
)
# The same tokens give the same samples up to float rounding: SNAC's windows are cut where the
# decode speed seen so far puts them, which differs from run to run (the CPU tests of the codec
# allow 1e-4 of full scale, 3.3 of 16-bit; the int16 rounding adds one).
PCM_ROUNDING = 5
SENTENCES = ["Good morning to you.", "The coffee is ready.", "Have a nice day!"]


def same_speech(pcm, reference):
    """Same length, and the same samples but for rounding."""
    ours, theirs = np.frombuffer(pcm, "<i2").astype(int), np.frombuffer(reference, "<i2").astype(int)
    return len(ours) == len(theirs) and int(np.abs(ours - theirs).max()) <= PCM_ROUNDING


def client(port):
    return AsyncTcpClient("127.0.0.1", port, read_timeout=READ_TIMEOUT_S)


async def until_audio_stop(wy):
    """(audio-start events, PCM bytes, every event type in order) up to the first audio-stop."""
    starts, pcm, types = [], b"", []
    while True:
        event = await wy.read_event()
        assert event is not None, f"connection closed after {types}"
        types.append(event.type)
        if AudioStart.is_type(event.type):
            starts.append(AudioStart.from_event(event))
        elif AudioChunk.is_type(event.type):
            pcm += AudioChunk.from_event(event).audio
        elif event.type == "audio-stop":
            return starts, pcm, types
        else:
            raise AssertionError(f"unexpected {event.type}: {event.data}")


def http_pcm(url, text, voice="tara", seed=WYOMING_SEED):
    body = {"model": "tts-1", "input": text, "voice": voice, "response_format": "pcm", "seed": seed}
    response = httpx.post(f"{url}/v1/audio/speech", json=body, timeout=120)
    assert response.status_code == 200, response.text
    return response.content


def test_describe_answers_info_within_home_assistants_second(live, runtime):
    _, port = live

    async def describe():
        async with client(port) as wy:
            started = time.monotonic()
            await wy.write_event(Describe().event())
            event = await wy.read_event()
            return event, time.monotonic() - started

    event, elapsed = asyncio.run(describe())
    # Kept, a wall-clock check: Home Assistant's own 1 s timeout is the subject, and the answer
    # comes from memory (no model work), far inside it even on a loaded machine.
    assert Info.is_type(event.type) and elapsed < HOME_ASSISTANT_DESCRIBE_TIMEOUT_S
    (program,) = Info.from_event(event).tts
    assert program.installed and program.supports_synthesize_streaming
    assert program.name and program.description and program.version and program.attribution.name
    names = [voice.name for voice in program.voices]
    assert names[0] == runtime.catalog.orpheus.default_voice and set(names) == set(runtime.tts.voices)
    for voice in program.voices:
        assert voice.installed and voice.languages == ["en"] and voice.description and voice.version
        assert voice.attribution.name == runtime.catalog.orpheus.provider


def test_one_shot_of_several_sentences_is_one_group_with_the_http_apis_samples(live):
    url, port = live

    async def speak():
        async with client(port) as wy:
            await wy.write_event(Synthesize(text=LONG_TEXT, voice=SynthesizeVoice(name="tara")).event())
            return await until_audio_stop(wy)

    starts, pcm, types = asyncio.run(speak())
    assert types[0] == "audio-start" and types.count("audio-start") == 1 and types[-1] == "audio-stop"
    assert set(types[1:-1]) == {"audio-chunk"} and len(types) > 3  # streamed in pieces
    (start,) = starts
    assert (start.rate, start.width, start.channels) == (24000, 2, 1)
    assert len(pcm) == 2 * UTTERANCE_SAMPLES * 2  # two utterances, 16-bit
    assert same_speech(pcm, http_pcm(url, LONG_TEXT))
    assert not same_speech(pcm, http_pcm(url, LONG_TEXT, seed=WYOMING_SEED + 1))  # the seed matters


def test_one_shot_without_a_voice_speaks_the_default_voice(live, runtime):
    url, port = live

    async def speak():
        async with client(port) as wy:
            await wy.write_event(Synthesize(text=SENTENCES[0]).event())
            return await until_audio_stop(wy)

    _, pcm, _ = asyncio.run(speak())
    assert same_speech(pcm, http_pcm(url, SENTENCES[0], voice=runtime.catalog.orpheus.default_voice))


def test_streaming_speaks_each_sentence_as_it_completes_and_ignores_the_full_synthesize(live):
    url, port = live

    async def stream():
        async with client(port) as wy:
            await wy.write_event(SynthesizeStart(voice=SynthesizeVoice(name="leah")).event())
            # LLM-sized deltas; the first sentence is complete once the second one begins.
            for delta in ["Good mor", "ning to", " you. The", " coffee"]:
                await wy.write_event(SynthesizeChunk(text=delta).event())
            # Audio must start while the rest of the text has still not been sent.
            first_event = await wy.read_event()
            assert first_event is not None and AudioStart.is_type(first_event.type)
            audio_before_last_chunk = True
            for delta in [" is ready. Have a", " nice day!"]:
                await wy.write_event(SynthesizeChunk(text=delta).event())
            # Sent inside a stream for servers that do not stream: must not be spoken again.
            await wy.write_event(Synthesize(text=" ".join(SENTENCES)).event())
            await wy.write_event(SynthesizeStop().event())
            groups = []
            _, pcm, types = await until_audio_stop(wy)
            groups.append((pcm, ["audio-start", *types]))
            while True:
                event = await wy.read_event()
                assert event is not None
                if SynthesizeStopped.is_type(event.type):
                    break
                assert AudioStart.is_type(event.type), event.type
                _, pcm, types = await until_audio_stop(wy)
                groups.append((pcm, ["audio-start", *types]))
            return audio_before_last_chunk, groups

    audio_before_last_chunk, groups = asyncio.run(stream())
    assert audio_before_last_chunk
    assert len(groups) == len(SENTENCES)  # one group per sentence, the extra synthesize ignored
    for pcm, types in groups:
        assert types[0] == "audio-start" and types.count("audio-start") == 1 and types[-1] == "audio-stop"
        assert len(pcm) == UTTERANCE_SAMPLES * 2
    for (pcm, _), sentence in zip(groups, SENTENCES):
        assert same_speech(pcm, http_pcm(url, sentence, voice="leah"))


def test_a_client_leaving_mid_speech_frees_its_slot_and_nothing_more_is_generated_for_it(
    live, live_app, runtime
):
    _, port = live
    engine = runtime.tts.engine
    text = " ".join(f"This is sentence number {n} of a long announcement, read slowly." for n in range(30))
    assert len(utterances(text)) >= 8
    sampled_before = engine.stats.tokens_sampled

    async def leave():
        wy = client(port)
        await wy.connect()
        await wy.write_event(Synthesize(text=text).event())
        while not AudioChunk.is_type((await wy.read_event()).type):
            pass
        await wy.disconnect()

    asyncio.run(leave())
    # Its handler (and whatever it scheduled) has ended, and its sequence is gone: nothing is
    # left that could generate for it.
    eventually(lambda: live_app.state.wyoming.connections == 0, "the connection's handler ended")
    eventually(lambda: not engine.kv_cells_in_use(), "the generation stopped after the client left")
    # Of its utterances of 140 tokens each, the first few were generated at most: however slow
    # the machine, the client's leaving stopped it, not the end of the text.
    assert engine.stats.tokens_sampled - sampled_before < 4 * 140


def test_an_unknown_voice_is_an_error_naming_the_voices(live):
    _, port = live
    error = asyncio.run(
        error_after(client(port), Synthesize(text="Hi.", voice=SynthesizeVoice(name="nobody")).event())
    )
    assert "unknown voice 'nobody'" in error.text and "tara" in error.text and error.code == "invalid_value"


def test_a_language_no_voice_speaks_is_an_error(live):
    _, port = live
    start = SynthesizeStart(voice=SynthesizeVoice(language="de-DE")).event()
    error = asyncio.run(error_after(client(port), start))
    assert "no voice here speaks 'de-DE'" in error.text


def test_bad_events_are_errors(live):
    _, port = live
    cases = [
        (Event(type="transcribe"), "unsupported event 'transcribe'"),
        (Event(type="synthesize", data={"voice": {"name": "tara"}}), 'synthesize needs its "text"'),
        (Event(type="synthesize", data={"text": 5}), 'synthesize needs its "text"'),
        (Event(type="synthesize", data={"text": "Hi.", "voice": "tara"}), "voice must be an object"),
        (SynthesizeChunk(text="Hi.").event(), "synthesize-chunk outside a stream"),
        (SynthesizeStop().event(), "synthesize-stop outside a stream"),
        (Synthesize(text="   ").event(), "empty"),
    ]
    for event, message in cases:
        error = asyncio.run(error_after(client(port), event))
        assert message in error.text, (event, error)
    nested = asyncio.run(error_after(client(port), SynthesizeStart().event(), SynthesizeStart().event()))
    assert "synthesize-start inside a stream" in nested.text


def test_text_over_the_input_limit_is_an_error(live, wyoming_settings):
    _, port = live
    limit = wyoming_settings.max_input_chars
    error = asyncio.run(error_after(client(port), Synthesize(text="a" * (limit + 1)).event()))
    assert "MAX_INPUT_CHARS" in error.text
    chunks = [SynthesizeChunk(text="b " * (limit // 4)).event() for _ in range(3)]
    streamed = asyncio.run(error_after(client(port), SynthesizeStart().event(), *chunks))
    assert "streamed text is over" in streamed.text


def test_a_full_engine_is_an_error_not_a_wait(live, runtime, monkeypatch):
    import threading

    _, port = live
    engine = runtime.tts.engine
    monkeypatch.setattr(engine, "max_queue", 0)
    gate = threading.Event()
    engine.call_in_worker(gate.wait)  # hold the worker so the slots stay as they are
    held = []
    try:
        while True:  # fill every free slot
            try:
                held.append(engine.submit(runtime.tts.request("Hi.", "tara")))
            except Exception:
                break
        error = asyncio.run(error_after(client(port), Synthesize(text="Hello there.").event()))
        assert error.code == "rate_limit_exceeded" and "retry" in error.text
    finally:
        for stream in held:
            stream.cancel()
        gate.set()


def test_describe_still_answers_on_a_connection_that_spoke(live):
    _, port = live

    async def both():
        async with client(port) as wy:
            await wy.write_event(Synthesize(text="Hi there.").event())
            await until_audio_stop(wy)
            await wy.write_event(Describe().event())
            return await wy.read_event()

    assert Info.is_type(asyncio.run(both()).type)


def test_bytes_that_are_not_an_event_and_oversized_events_get_an_error(live, wyoming_settings):
    _, port = live

    async def send_raw(raw):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        await writer.drain()
        answer = await asyncio.wait_for(async_read_event(reader), READ_TIMEOUT_S)
        end = await asyncio.wait_for(reader.read(), READ_TIMEOUT_S)
        writer.close()
        return Error.from_event(answer), end

    error, end = asyncio.run(send_raw(b"GET / HTTP/1.1\r\n\r\n"))
    assert "not a Wyoming event" in error.text and end == b""
    too_big = wyoming_settings.max_body_bytes + 1
    header = json.dumps({"type": "audio-chunk", "payload_length": too_big}).encode() + b"\n"
    error, end = asyncio.run(send_raw(header))
    assert error.code == "request_too_large" and "MAX_BODY_BYTES" in error.text and end == b""


def test_a_connection_piling_up_requests_is_refused_beyond_its_pending_limit(live):
    _, port = live

    async def pile_up():
        async with client(port) as wy:
            for _ in range(MAX_PENDING_JOBS + 2):
                await wy.write_event(Synthesize(text="Hi there.").event())
            types = []
            while (event := await wy.read_event()) is not None:
                types.append(event.type)
                if Error.is_type(event.type):
                    error = Error.from_event(event)
            return types, error

    types, error = asyncio.run(pile_up())
    assert error.code == "rate_limit_exceeded" and "requests waiting" in error.text
    assert types[-1] == "error"


def test_wyoming_speech_is_counted_in_the_metrics(live):
    url, port = live

    async def speak():
        async with client(port) as wy:
            await wy.write_event(Synthesize(text="Hi there.").event())
            await until_audio_stop(wy)

    asyncio.run(speak())
    metrics = httpx.get(f"{url}/metrics").text
    assert 'orpheus_speech_utterances_total{endpoint="wyoming",finish_reason="length"}' in metrics
    assert 'orpheus_speech_time_to_first_audio_seconds_count{endpoint="wyoming"}' in metrics
