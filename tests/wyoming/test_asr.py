"""The Wyoming transcription port of a live server, with the wyoming package's own client, on the
tiny random Whisper (its words are meaningless: these tests compare paths, never what it heard)."""

import asyncio
import io

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

from coordinator.stt.audio import PcmResampler
from coordinator.stt.transcript import SAMPLE_RATE
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


def test_an_empty_recording_is_an_empty_transcript(stt_port):
    answer = asyncio.run(transcribe(stt_port, b"", SAMPLE_RATE))
    assert Transcript.from_event(answer).text == ""


def test_bad_transcription_events_are_errors(stt_port):
    start = AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event()
    chunk = AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=b"\0\0").event()
    cases = [
        ((Synthesize(text="Hi.").event(),), "unsupported event 'synthesize'"),
        ((Transcribe(language="klingon").event(),), "language 'klingon' is not one Whisper knows"),
        ((chunk,), "audio-chunk outside audio"),
        ((AudioStop().event(),), "audio-stop outside audio"),
        ((start, start), "audio-start inside audio"),
        ((Event(type="audio-start", data={"rate": SAMPLE_RATE}),), "needs its rate, width and channels"),
        ((AudioStart(rate=0, width=2, channels=1).event(),), "rate=0 is not a valid rate"),
        ((start, AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=b"\0").event()), "no whole number"),
        ((start, AudioChunk(rate=8000, width=2, channels=1, audio=b"\0\0").event()), "keep one rate"),
    ]
    for events, message in cases:
        error = asyncio.run(error_after(client(stt_port), *events))
        assert message in error.text, (events, error)


def test_a_recording_over_max_audio_seconds_is_refused_as_it_arrives(settings, runtime):
    from functools import partial

    from coordinator.server.lifecycle import Lifecycle
    from coordinator.wyoming.asr import TranscriptionHandler, TranscriptionService
    from coordinator.wyoming.connection import ServerContext
    from coordinator.wyoming.server import WyomingServer

    service = TranscriptionService(
        context=ServerContext(runtime=lambda: runtime, not_ready_reason=lambda: None, lifecycle=Lifecycle()),
        describe=lambda: Info().event(),
        max_audio_seconds=0.05,
    )

    async def scenario():
        server = WyomingServer(partial(TranscriptionHandler, service), "127.0.0.1", 0)
        await server.start()
        try:
            too_long = np.zeros(SAMPLE_RATE // 10, "<i2").tobytes()  # 0.1 s
            return await error_after(client(server.port), *audio_events(too_long, SAMPLE_RATE))
        finally:
            await server.stop()

    error = asyncio.run(scenario())
    assert "MAX_AUDIO_SECONDS" in error.text and "0.05 s" in error.text
