"""The official `openai` client against a real uvicorn on loopback."""

import io
import socket
import threading
import time

import openai
import pytest
import soundfile as sf
import uvicorn

from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.server.app import create_app

FRAMES = 10
EXTRA = {"max_tokens": 7 * FRAMES, "seed": 2}


@pytest.fixture(scope="module")
def base_url(settings, runtime):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(settings, runtime=runtime), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def client(base_url):
    return openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=0)


def test_speech_create_returns_a_wav_with_every_frame(client):
    response = client.audio.speech.create(
        model="tts-1", voice="tara", input="Hello there.", response_format="wav", extra_body=EXTRA
    )
    audio, rate = sf.read(io.BytesIO(response.content))
    assert rate == 24000 and len(audio) == FRAMES * SAMPLES_PER_FRAME


def test_streaming_response_delivers_pcm_in_several_chunks(client):
    with client.audio.speech.with_streaming_response.create(
        model="orpheus-3b-ft", voice="leo", input="Hi.", response_format="pcm", extra_body=EXTRA
    ) as response:
        chunks = list(response.iter_bytes(chunk_size=None))
    assert sum(len(c) for c in chunks) == FRAMES * SAMPLES_PER_FRAME * 2


def test_errors_arrive_as_openai_exceptions(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.audio.speech.create(model="tts-1", voice="nova", input="Hi.", extra_body=EXTRA)
    assert info.value.code == "invalid_value" and "unknown voice" in info.value.message
    with pytest.raises(openai.NotFoundError):
        client.audio.speech.create(model="whisper-1", voice="tara", input="Hi.")


def test_models_list(client):
    assert [m.id for m in client.models.list()] == ["orpheus-3b-ft", "gemma-2-2b-instruct"]


def test_chat_completions_stream_through_the_openai_client(client):
    stream = client.chat.completions.create(
        model="gemma-2-2b-instruct",
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=8,
        seed=1,
        stream=True,
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_completions_through_the_openai_client(client):
    completion = client.completions.create(model="gemma-2-2b-instruct", prompt="Once", max_tokens=4, seed=1)
    assert completion.object == "text_completion" and completion.usage.completion_tokens <= 4
