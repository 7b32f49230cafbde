"""Fault injection on a real uvicorn: clients that go away mid-stream, generation and SNAC
failures, SNAC out of memory. Each must be answered cleanly (an OpenAI error before the stream
starts, a clean end after), free its engine slot because the work was stopped (cancelled, not run
to its end: counted, never timed, so a loaded machine cannot fail it), and leave the server serving."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable

import httpx
import pytest
import torch
import websockets
from prometheus_client.parser import text_string_to_metric_families

from coordinator.engine.batch_engine import GenerationRequest
from coordinator.engine.sampling import SamplingParams
from coordinator.server.app import create_app
from tests.rig.waiting import eventually
from tests.server.checks import (
    busy,
    pcm_frames,
    post_and_drop,
    socket_request,
    sse_events,
    sse_json_until_done,
    wait_until_free,
    wav_samples,
)
from tests.server.conftest import serving

TIMEOUT_S = 60
# Long enough to be mid-stream when the client goes (the random model never says end of speech).
LONG_SPEECH = {
    "model": "tts-1",
    "input": "Hello there.",
    "voice": "tara",
    "response_format": "pcm",
    "max_tokens": 980,
}
SHORT_SPEECH_FRAMES = 5
SHORT_SPEECH = {**LONG_SPEECH, "max_tokens": SHORT_SPEECH_FRAMES * 7}
# This seed's reply runs to 681 tokens, ~3.5 s at LLM_STEP_S a token.
LONG_CHAT = {
    "model": "gemma-2-2b-instruct",
    "messages": [{"role": "user", "content": "Hi"}],
    "max_tokens": 900,
    "seed": 1,
    "stream": True,
}
# The tiny chat model writes a token in about a millisecond and would finish before any client
# left; at a real model's pace (a few ms a token on a GPU) its generation outlives the client.
LLM_STEP_S = 0.005
VOICE_CHAT = {"message": "Tell me something.", "max_tokens": 60, "seed": 0}
PRODUCER = "SentencePipeline.run"


@pytest.fixture(scope="module")
def server(settings, runtime):
    """The app on a real uvicorn, with one test-only route listing the server loop's tasks (to
    see that no background task outlives its request)."""
    app = create_app(settings, runtime=runtime)

    @app.get("/test/tasks")
    async def tasks() -> list[str]:
        return [task.get_coro().__qualname__ for task in asyncio.all_tasks()]  # type: ignore[union-attr]

    with serving(app) as url:
        yield url


@pytest.fixture(autouse=True)
def starts_and_ends_free(runtime):
    wait_until_free(runtime)  # nothing left over from an earlier test
    yield
    wait_until_free(runtime)


@pytest.fixture
def slow_llm(runtime, monkeypatch):
    engine = runtime.llm.engine
    step = engine._step

    def paced() -> None:
        # Kept: a slow model is the scenario (the client leaves mid-reply). A slower machine only
        # makes the reply longer, so this cannot race the code.
        time.sleep(LLM_STEP_S)
        step()

    monkeypatch.setattr(engine, "_step", paced)


def cancelled(runtime) -> int:
    """Sequences ended by a cancel so far, both engines."""
    engines = (runtime.tts.engine, runtime.llm.engine)
    return sum(engine.stats.finish_reasons.get("cancelled", 0) for engine in engines)


def ended(runtime) -> int:
    """Sequences ended so far, however, both engines."""
    engines = (runtime.tts.engine, runtime.llm.engine)
    return sum(sum(engine.stats.finish_reasons.values()) for engine in engines)


def stopped_or_never_started(runtime, cancelled_before: int, ended_before: int) -> bool:
    """A client that leaves at once may be gone before the server reads its request: then no
    sequence ever started. Otherwise its sequences must have been cancelled."""
    return cancelled(runtime) > cancelled_before or ended(runtime) == ended_before


def client_closed(url: str, route: str) -> float:
    """Requests to ``route`` counted with status 499 (client closed request) so far."""
    families = text_string_to_metric_families(httpx.get(f"{url}/metrics").text)
    return sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == "orpheus_http_requests_total"
        and sample.labels.get("route") == route
        and sample.labels.get("status") == "499"
    )


def served_completely(url: str) -> None:
    """The next request after a fault gets all of its audio."""
    response = httpx.post(f"{url}/v1/audio/speech", json=SHORT_SPEECH, timeout=TIMEOUT_S)
    assert response.status_code == 200 and pcm_frames(response.content) == SHORT_SPEECH_FRAMES


def background_tasks(url: str) -> list[str]:
    return [name for name in httpx.get(f"{url}/test/tasks").json() if name == PRODUCER]


def wait_until_clear(url: str, runtime) -> None:
    """Every slot free and no request's background task left over: a voice chat holds no slot for
    a moment between its reply's end and its last sentence's speech."""
    wait_until_free(runtime)
    eventually(lambda: not background_tasks(url), "the voice chat's producer task ended with it")
    wait_until_free(runtime)


class FailOnCall:
    """Wraps a callable; call number ``fail_at`` (1-based) raises ``error`` instead."""

    def __init__(self, real: Callable, fail_at: int, error: BaseException) -> None:
        self.real, self.fail_at, self.error = real, fail_at, error
        self.calls = 0
        self.failed = threading.Event()

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.fail_at:
            self.failed.set()
            raise self.error
        return self.real(*args, **kwargs)


# -- clients going away -------------------------------------------------------------------------

DROPS = {
    "speech": ("/v1/audio/speech", LONG_SPEECH),
    "speech sse": ("/v1/audio/speech", {**LONG_SPEECH, "stream_format": "sse"}),
    "chat completions": ("/v1/chat/completions", LONG_CHAT),
    "voice chat": ("/chat", VOICE_CHAT),
    "voice chat text": ("/chat", {"message": "Hi", "seed": 1, "max_tokens": 900, "stream_text": True}),
}


@pytest.mark.parametrize("kind", DROPS)
def test_a_closed_socket_mid_stream_frees_the_slot(server, runtime, slow_llm, kind, monkeypatch):
    path, body = DROPS[kind]
    # A long utterance of a short text: past its length cap, which could end it before the drop.
    monkeypatch.setattr(runtime.tts, "length_cap", False)
    before = cancelled(runtime)
    status = post_and_drop(server, path, body)
    assert status.endswith(b"200 OK")
    wait_until_clear(server, runtime)
    assert cancelled(runtime) > before  # stopped by the drop, not run to its end
    served_completely(server)


@pytest.mark.parametrize("kind", ["speech", "chat completions", "voice chat"])
def test_a_socket_closed_before_the_response_started_frees_the_slot(server, runtime, slow_llm, kind):
    path, body = DROPS[kind]
    before = cancelled(runtime), ended(runtime)
    post_and_drop(server, path, body, body_bytes=0)
    wait_until_clear(server, runtime)
    assert stopped_or_never_started(runtime, *before)
    served_completely(server)


@pytest.mark.parametrize(
    "kind, body",
    [
        ("speech", LONG_SPEECH),
        ("chat completions", LONG_CHAT),
        ("chat completions", {**LONG_CHAT, "stream": False}),
        ("voice chat", VOICE_CHAT),
    ],
)
def test_a_client_with_a_short_read_timeout_frees_the_slot(server, runtime, slow_llm, kind, body):
    path = DROPS[kind][0]
    before = cancelled(runtime), ended(runtime)
    # Shorter than any first audio or first token here: the client gives up while the server works.
    timeout = httpx.Timeout(TIMEOUT_S, read=0.001)
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.stream("POST", f"{server}{path}", json=body, timeout=timeout) as response,
    ):
        for _ in response.iter_bytes():
            pass
    wait_until_clear(server, runtime)
    assert stopped_or_never_started(runtime, *before)
    served_completely(server)


@pytest.mark.parametrize("kind", DROPS)
def test_closing_the_response_after_the_first_chunk_frees_the_slot(server, runtime, slow_llm, kind):
    path, body = DROPS[kind]
    before = cancelled(runtime)
    with httpx.stream("POST", f"{server}{path}", json=body, timeout=TIMEOUT_S) as response:
        assert response.status_code == 200
        assert next(response.iter_raw())
    wait_until_clear(server, runtime)
    assert cancelled(runtime) > before
    served_completely(server)


def test_a_speech_websocket_closed_after_the_first_chunk_frees_the_slot(server, runtime):
    async def talk() -> None:
        url = server.replace("http://", "ws://") + "/v1/audio/speech/stream/ws?voice=tara"
        async with websockets.connect(url) as ws:
            await ws.send("Hello there. " * 200)  # a dozen utterances: seconds of audio
            assert isinstance(await ws.recv(), bytes)

    before = cancelled(runtime)
    asyncio.run(talk())
    wait_until_clear(server, runtime)
    assert cancelled(runtime) > before
    served_completely(server)


@pytest.mark.parametrize("kind", ["speech", "chat completions", "voice chat"])
def test_a_client_leaving_while_its_request_waits_for_a_slot_leaves_the_queue(
    server, runtime, slow_llm, kind
):
    path, body = DROPS[kind]
    before = client_closed(server, path)
    engine = runtime.tts.engine if kind == "speech" else runtime.llm.engine
    hold = GenerationRequest(
        prompt=engine.model.tokenize("hold", add_special=True), params=SamplingParams(max_tokens=900)
    )
    held = [engine.submit(hold) for _ in range(engine.max_sequences)]  # every slot taken for seconds
    try:
        with socket_request(server, path, body):
            eventually(lambda: engine.stats.waiting_sequences, "the request queued")
        eventually(lambda: not engine.stats.waiting_sequences, "the request left the queue")
    finally:
        for stream in held:
            stream.cancel()
    wait_until_clear(server, runtime)
    # Counted as a client that went away (nginx's 499), not as a server failure.
    assert client_closed(server, path) == before + 1
    served_completely(server)


# -- failures inside the server -----------------------------------------------------------------


def assert_openai_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["type"] == "server_error"
    assert "Traceback" not in response.text and "File " not in response.text
    return error


@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/audio/speech", SHORT_SPEECH),
        ("/v1/chat/completions", LONG_CHAT),
        ("/v1/chat/completions", {**LONG_CHAT, "stream": False}),
        ("/chat", VOICE_CHAT),
    ],
)
def test_generation_failing_before_any_output_is_a_500_in_openai_shape(
    server, runtime, monkeypatch, path, body
):
    engine = runtime.tts.engine if path == "/v1/audio/speech" else runtime.llm.engine
    fault = FailOnCall(engine._step, 1, RuntimeError("llama_decode failed (injected)"))
    monkeypatch.setattr(engine, "_step", fault)
    response = httpx.post(f"{server}{path}", json=body, timeout=TIMEOUT_S)
    assert_openai_error(response, 500, "generation_failed")
    wait_until_free(runtime)
    served_completely(server)


def test_generation_failing_mid_speech_ends_the_audio_early_on_a_whole_frame(server, runtime, monkeypatch):
    engine = runtime.tts.engine
    # A long utterance of a short text: past its length cap and the rig's TTS_MAX_TOKENS.
    monkeypatch.setattr(runtime.tts, "length_cap", False)
    fault = FailOnCall(engine._step, 300, RuntimeError("llama_decode failed (injected)"))
    monkeypatch.setattr(engine, "_step", fault)
    response = httpx.post(f"{server}/v1/audio/speech", json=LONG_SPEECH, timeout=TIMEOUT_S)
    assert response.status_code == 200 and fault.failed.is_set()
    assert 0 < pcm_frames(response.content) < LONG_SPEECH["max_tokens"] // 7
    wait_until_free(runtime)
    served_completely(server)


def test_generation_failing_mid_chat_stream_sends_an_error_event_then_done(server, runtime, monkeypatch):
    engine = runtime.llm.engine
    fault = FailOnCall(engine._step, 20, RuntimeError("llama_decode failed (injected)"))
    monkeypatch.setattr(engine, "_step", fault)
    response = httpx.post(f"{server}/v1/chat/completions", json=LONG_CHAT, timeout=TIMEOUT_S)
    assert response.status_code == 200 and fault.failed.is_set()
    *chunks, error = sse_json_until_done(response.text)
    assert chunks and all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert error["error"]["code"] == "generation_failed" and "Traceback" not in response.text
    wait_until_free(runtime)
    served_completely(server)


@pytest.mark.parametrize("stream_text", [False, True])
def test_the_reply_failing_mid_voice_chat_ends_the_stream_cleanly(server, runtime, monkeypatch, stream_text):
    engine = runtime.llm.engine
    body = {**VOICE_CHAT, "max_tokens": 900, "stream_text": stream_text}
    # Far enough in that the first sentence is out (and, for audio, being spoken).
    fault = FailOnCall(engine._step, 40, RuntimeError("llama_decode failed (injected)"))
    monkeypatch.setattr(engine, "_step", fault)
    # A stream cut without its end (a dropped connection) would raise here.
    response = httpx.post(f"{server}/chat", json=body, timeout=TIMEOUT_S)
    assert response.status_code == 200 and fault.failed.is_set()
    if stream_text:
        assert response.text
    else:
        assert wav_samples(response.content) > 0
    wait_until_clear(server, runtime)
    served_completely(server)


def test_snac_failing_before_any_audio_is_a_500_in_openai_shape(server, runtime, monkeypatch):
    codec = runtime.snac.codec
    monkeypatch.setattr(codec, "decode_batch", FailOnCall(codec.decode_batch, 1, RuntimeError("cuDNN error")))
    response = httpx.post(f"{server}/v1/audio/speech", json=SHORT_SPEECH, timeout=TIMEOUT_S)
    error = assert_openai_error(response, 500, "decode_failed")
    assert "cuDNN" not in error["message"]  # the log has the details, the client a plain message
    wait_until_free(runtime)
    served_completely(server)


@pytest.mark.parametrize("stream_format", ["audio", "sse"])
def test_snac_failing_mid_stream_ends_the_stream_cleanly(server, runtime, monkeypatch, stream_format):
    codec = runtime.snac.codec
    fault = FailOnCall(codec.decode_batch, 3, RuntimeError("cuDNN error"))
    monkeypatch.setattr(codec, "decode_batch", fault)
    body = {**LONG_SPEECH, "stream_format": stream_format}
    response = httpx.post(f"{server}/v1/audio/speech", json=body, timeout=TIMEOUT_S)
    assert response.status_code == 200 and fault.failed.is_set()
    if stream_format == "sse":
        *deltas, error = [json.loads(event) for event in sse_events(response.text)]
        assert deltas and all(event["type"] == "speech.audio.delta" for event in deltas)
        assert error["type"] == "error" and error["error"]["code"] == "decode_failed"
    else:
        assert 0 < pcm_frames(response.content) < LONG_SPEECH["max_tokens"] // 7
    wait_until_free(runtime)
    served_completely(server)


@pytest.mark.parametrize("error", [torch.OutOfMemoryError, torch.cuda.OutOfMemoryError])
@pytest.mark.parametrize("path, body", [("/v1/audio/speech", SHORT_SPEECH), ("/chat", VOICE_CHAT)])
def test_snac_out_of_memory_is_a_503_to_retry_and_the_server_keeps_serving(
    server, runtime, monkeypatch, error, path, body
):
    codec = runtime.snac.codec
    fault = FailOnCall(codec.decode_batch, 1, error("CUDA out of memory. Tried to allocate 2.00 GiB"))
    monkeypatch.setattr(codec, "decode_batch", fault)
    response = httpx.post(f"{server}{path}", json=body, timeout=TIMEOUT_S)
    assert_openai_error(response, 503, "out_of_memory")
    assert response.headers["retry-after"].isdigit()
    wait_until_free(runtime)
    assert not busy(runtime)
    served_completely(server)
