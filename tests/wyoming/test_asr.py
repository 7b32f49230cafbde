"""The Wyoming transcription port of a live server, with the wyoming package's own client, on the
tiny random Whisper (its words are meaningless: these tests compare paths, never what it heard)."""

import asyncio
import contextlib
import io
import threading
from functools import partial

import httpx
import numpy as np
import pytest
import soundfile as sf
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize

from coordinator.service.lifecycle import Lifecycle
from coordinator.service.recording import Recording
from coordinator.stt.audio import PcmResampler
from coordinator.stt.transcript import SAMPLE_RATE
from coordinator.wyoming.asr import OFFLOAD_BYTES, TranscriptionHandler, TranscriptionService
from coordinator.wyoming.context import ServerContext
from coordinator.wyoming.server import WyomingServer
from tests.rig.audio_samples import spoken
from tests.wyoming.conftest import error_after

READ_TIMEOUT_S = 120
CHUNK_SAMPLES = 1024  # Home Assistant sends its microphone in chunks of this order


@pytest.fixture(scope="module")
def stt_port(live, wyoming_settings):
    return wyoming_settings.wyoming_stt_port


@pytest.fixture(scope="module")
def speech_16k():
    """A spoken sentence at Whisper's 16 kHz as 16-bit PCM: the same samples reach the recogniser
    through either door, so their transcripts must be the same."""
    samples, rate = spoken("Turn on the kitchen lights, please.")
    resampled = PcmResampler(rate).process(samples)
    return (np.clip(resampled, -1, 1) * 32767).astype("<i2").tobytes()


def client(port):
    return AsyncTcpClient("127.0.0.1", port, read_timeout=READ_TIMEOUT_S)


def audio_events(pcm: bytes, rate: int, *, width=2, channels=1):
    step = CHUNK_SAMPLES * width * channels
    yield AudioStart(rate=rate, width=width, channels=channels).event()
    for offset in range(0, len(pcm), step):
        yield AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[offset : offset + step]).event()
    yield AudioStop().event()


async def transcribe(port, pcm, rate, *, language="en", **audio):
    async with client(port) as wy:
        await wy.write_event(Transcribe(language=language).event())
        for event in audio_events(pcm, rate, **audio):
            await wy.write_event(event)
        return await wy.read_event()


def http_text(url, pcm):
    buffer = io.BytesIO()
    sf.write(buffer, np.frombuffer(pcm, "<i2"), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    response = httpx.post(
        f"{url}/v1/audio/transcriptions",
        files={"file": ("speech.wav", buffer.getvalue(), "audio/wav")},
        data={"model": "whisper-1", "language": "en"},
        timeout=READ_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    return response.json()["text"]


def test_describe_lists_the_recogniser_with_its_languages(stt_port, runtime):
    async def describe():
        async with client(stt_port) as wy:
            await wy.write_event(Describe().event())
            return await wy.read_event()

    info = Info.from_event(asyncio.run(describe()))
    (program,) = info.asr
    (model,) = program.models
    assert program.installed and model.installed and model.name == runtime.stt.model_id
    assert "en" in model.languages and program.attribution.name and model.version
    assert len(model.languages) > 1 if runtime.stt.transcriber.multilingual else model.languages == ["en"]


def test_a_recording_streamed_in_chunks_gives_the_http_apis_transcript(live, stt_port, speech_16k):
    url, _ = live
    answer = asyncio.run(transcribe(stt_port, speech_16k, SAMPLE_RATE))
    assert Transcript.is_type(answer.type), answer
    transcript = Transcript.from_event(answer)
    assert transcript.text == http_text(url, speech_16k) and transcript.language == "en"
    assert transcript.text  # the random model does write words: the comparison is not of two blanks


def test_a_microphones_stereo_48_khz_is_converted_and_transcribed(stt_port):
    samples, rate = spoken("What time is it?")
    stereo = np.repeat((np.clip(samples, -1, 1) * 32767).astype("<i2"), 2)
    answer = asyncio.run(transcribe(stt_port, stereo.tobytes(), rate, channels=2))
    assert Transcript.is_type(answer.type) and isinstance(Transcript.from_event(answer).text, str)


@pytest.mark.parametrize("channels", [3, 8])
def test_every_channel_count_up_to_eight_is_averaged_to_the_same_mono_transcript(
    live, stt_port, speech_16k, channels
):
    """3 channels failed inside the package's converter, 8 came out garbled and 4 times as long:
    the same samples in every channel must reach the recogniser as the mono recording."""
    url, _ = live
    interleaved = np.repeat(np.frombuffer(speech_16k, "<i2"), channels).tobytes()
    answer = asyncio.run(transcribe(stt_port, interleaved, SAMPLE_RATE, channels=channels))
    assert Transcript.is_type(answer.type), answer
    assert Transcript.from_event(answer).text == http_text(url, speech_16k)


def test_an_empty_recording_is_an_empty_transcript(stt_port):
    answer = asyncio.run(transcribe(stt_port, b"", SAMPLE_RATE))
    assert Transcript.from_event(answer).text == ""


def test_bad_transcription_events_are_errors(stt_port, speech_16k):
    start = AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event()
    chunk = AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=b"\0\0").event()
    cases = [
        ((Synthesize(text="Hi.").event(),), "unsupported event 'synthesize'"),
        ((Transcribe(language="klingon").event(),), "language 'klingon' is not one Whisper knows"),
        ((chunk,), "audio-chunk outside audio"),
        ((AudioStop().event(),), "audio-stop outside audio"),
        ((start, start), "audio-start inside audio"),
        ((Event(type="audio-start", data={"rate": SAMPLE_RATE}),), "needs its rate, width and channels"),
        ((AudioStart(rate=0, width=2, channels=1).event(),), "rate=0 is not a rate this server takes"),
        # 2^40 Hz overflowed the converter; 1 Hz made each byte 16,000 samples.
        ((AudioStart(rate=2**40, width=2, channels=1).event(),), "send audio at 8000 to 96000 Hz"),
        ((AudioStart(rate=1, width=1, channels=1).event(),), "rate=1 is not a rate this server takes"),
        ((AudioStart(rate=SAMPLE_RATE, width=5, channels=1).event(),), "send 1, 2, 3 or 4 bytes per sample"),
        ((AudioStart(rate=SAMPLE_RATE, width=2, channels=9).event(),), "send 1 to 8 channels"),
        ((start, AudioChunk(rate=SAMPLE_RATE, width=2, channels=0, audio=b"\0\0").event()), "channels=0"),
        ((start, AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=b"\0").event()), "no whole number"),
        ((start, AudioChunk(rate=8000, width=2, channels=1, audio=b"\0\0").event()), "keep one rate"),
    ]
    for events, message in cases:
        error = asyncio.run(error_after(client(stt_port), *events))
        assert message in error.text, (events, error)
    # The port still serves.
    assert Transcript.is_type(asyncio.run(transcribe(stt_port, speech_16k, SAMPLE_RATE)).type)


@contextlib.asynccontextmanager
async def transcription_port(runtime, *, max_audio_seconds):
    """A transcription port of its own, with its own MAX_AUDIO_SECONDS."""
    service = TranscriptionService(
        context=ServerContext(runtime=lambda: runtime, not_ready_reason=lambda: None, lifecycle=Lifecycle()),
        describe=lambda: Info().event(),
        max_audio_seconds=max_audio_seconds,
    )
    server = WyomingServer(partial(TranscriptionHandler, service), "127.0.0.1", 0)
    await server.start()
    try:
        yield server.port
    finally:
        await server.stop()


def test_a_recording_over_max_audio_seconds_is_refused_as_it_arrives(runtime):
    async def scenario():
        async with transcription_port(runtime, max_audio_seconds=0.05) as port:
            too_long = np.zeros(SAMPLE_RATE // 10, "<i2").tobytes()  # 0.1 s
            error = await error_after(client(port), *audio_events(too_long, SAMPLE_RATE))
            return error, await transcribe(port, too_long[: len(too_long) // 4], SAMPLE_RATE)

    error, after = asyncio.run(scenario())
    assert "MAX_AUDIO_SECONDS" in error.text and "0.05 s" in error.text
    assert Transcript.is_type(after.type)  # the port still serves


def test_a_connections_budget_comes_back_once_its_recording_is_transcribed(runtime):
    """MAX_AUDIO_SECONDS bounds what one connection holds at once: recordings after recordings
    are fine, each within it."""
    tenth = np.zeros(SAMPLE_RATE // 10, "<i2").tobytes()

    async def scenario():
        async with transcription_port(runtime, max_audio_seconds=0.15) as port, client(port) as wy:
            answers = []
            for _ in range(3):
                for event in audio_events(tenth, SAMPLE_RATE):
                    await wy.write_event(event)
                answers.append(await wy.read_event())
            return answers

    assert all(Transcript.is_type(answer.type) for answer in asyncio.run(scenario()))


def test_a_large_chunk_is_converted_off_the_event_loop(runtime, speech_16k, monkeypatch):
    """One event may carry MAX_BODY_BYTES of audio: its conversion must not hold up every other
    connection and /livez. Home Assistant's small chunks stay on the loop (cheaper than a thread)."""
    on_loop = {}
    add = Recording.add

    def spy(self, chunk):
        on_loop[len(chunk.audio)] = threading.current_thread() is threading.main_thread()
        add(self, chunk)

    monkeypatch.setattr(Recording, "add", spy)
    small, large = speech_16k[:2048], speech_16k[2048 : 2048 + OFFLOAD_BYTES]

    async def scenario():
        async with transcription_port(runtime, max_audio_seconds=60) as port, client(port) as wy:
            await wy.write_event(AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event())
            for pcm in (small, large):
                await wy.write_event(AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=pcm).event())
            await wy.write_event(AudioStop().event())
            return await wy.read_event()

    assert Transcript.is_type(asyncio.run(scenario()).type)
    assert on_loop == {len(small): True, len(large): False}
