"""The official `openai` client against a real uvicorn on loopback."""

import io

import av
import openai
import pytest
import soundfile as sf

from coordinator.audio.format import SAMPLES_PER_FRAME

FRAMES = 10
EXTRA = {"max_tokens": 7 * FRAMES, "seed": 2}


@pytest.fixture(scope="module")
def client(live_url):
    return openai.OpenAI(base_url=f"{live_url}/v1", api_key="not-needed", max_retries=0)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "opus", "flac", "aac", "pcm"])
def test_speech_create_in_every_format_decodes_back(client, fmt):
    response = client.audio.speech.create(
        model="tts-1", voice="tara", input="Hello there.", response_format=fmt, extra_body=EXTRA
    )
    expected = FRAMES * SAMPLES_PER_FRAME
    if fmt == "pcm":
        assert len(response.content) == expected * 2
        return
    if fmt in ("wav", "flac"):  # lossless, and whole: exactly the samples spoken, as soundfile reads them
        assert len(sf.read(io.BytesIO(response.content))[0]) == expected
        return
    if fmt in ("mp3", "opus"):  # what libsndfile reads from a stream of unknown length
        samples = sum(len(block) for block in sf.blocks(io.BytesIO(response.content), blocksize=4096))
    else:  # libsndfile has no AAC: decode it with FFmpeg
        with av.open(io.BytesIO(response.content)) as container:
            samples = sum(f.samples for f in container.decode(audio=0))
    assert expected <= samples <= expected + 2048  # lossy codecs add their encoder delay


def test_streaming_response_delivers_pcm_in_several_chunks(client):
    with client.audio.speech.with_streaming_response.create(
        model="orpheus-3b-ft", voice="leo", input="Hi.", response_format="pcm", extra_body=EXTRA
    ) as response:
        chunks = list(response.iter_bytes(chunk_size=None))
    assert sum(len(c) for c in chunks) == FRAMES * SAMPLES_PER_FRAME * 2


def test_errors_arrive_as_openai_exceptions(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.audio.speech.create(model="tts-1", voice="nobody", input="Hi.", extra_body=EXTRA)
    assert info.value.code == "invalid_value" and "unknown voice" in info.value.message
    with pytest.raises(openai.NotFoundError):
        client.audio.speech.create(model="whisper-1", voice="tara", input="Hi.")


def test_models_list(client):
    assert [m.id for m in client.models.list()] == ["orpheus-3b-ft", "gemma-2-2b-instruct", "whisper"]


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
