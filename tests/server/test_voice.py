"""/chat, /tts, /models and the speech WebSocket of the seed documents."""

import io
import json

import pytest
import soundfile as sf

from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.text.sentences import split_sentences, utterances

TTS_FRAMES = 140 // 7  # TTS_MAX_TOKENS of the test settings


def test_chat_stream_text_returns_the_reply_as_text(client):
    response = client.post(
        "/chat", json={"message": "Hello", "stream_text": True, "max_tokens": 20, "seed": 1}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert isinstance(response.text, str)


def test_chat_speaks_every_sentence_of_the_reply_into_one_wav(client, runtime):
    body = {"message": "Tell me something.", "voice": "zoe", "max_tokens": 60, "seed": 0}
    text = client.post("/chat", json={**body, "stream_text": True}).text
    response = client.post("/chat", json=body)
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(response.content))
    assert rate == 24000

    spoken = [u for sentence in split_sentences(text) for u in utterances(sentence)]
    assert len(spoken) >= 2  # this seed's random reply has several sentences
    # Each utterance runs to TTS_MAX_TOKENS with the random model, and every frame is in the WAV.
    assert len(audio) == len(spoken) * TTS_FRAMES * SAMPLES_PER_FRAME


def test_chat_with_the_speech_engine_full_is_a_429_before_any_audio(client, tts, monkeypatch):
    import threading

    engine = tts.engine
    monkeypatch.setattr(engine, "max_queue", 0)
    gate = threading.Event()
    engine.call_in_worker(gate.wait)  # hold the speech worker so its slots stay taken
    held = []
    try:
        while True:
            try:
                held.append(engine.submit(tts.request("Hi.", "tara")))
            except Exception:
                break
        response = client.post("/chat", json={"message": "Tell me something.", "max_tokens": 40, "seed": 0})
        assert response.status_code == 429 and response.headers["retry-after"] == "5"
        assert response.json()["error"]["type"] == "rate_limit_exceeded"
    finally:
        for stream in held:
            stream.cancel()
        gate.set()
    assert tts.engine.kv_cells_in_use() == {}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"message": ""}, "message"),
        ({"message": "hi", "voice": "bob"}, "voice"),
        ({"message": "hi", "history": [{"role": "robot", "content": "x"}]}, "history.0.role"),
    ],
)
def test_bad_chat_requests_are_400(client, body, param):
    response = client.post("/chat", json=body)
    assert response.status_code == 400 and response.json()["error"]["param"] == param


def test_seed_tts_get_and_post_return_wav(client):
    response = client.get("/tts", params={"prompt": "Hello world", "voice": "zoe", "max_tokens": 35})
    audio, _ = sf.read(io.BytesIO(response.content))
    assert response.headers["content-type"] == "audio/wav" and len(audio) == 5 * SAMPLES_PER_FRAME
    response = client.post("/tts", json={"prompt": "Hello world"})
    assert len(sf.read(io.BytesIO(response.content))[0]) == TTS_FRAMES * SAMPLES_PER_FRAME
    assert client.get("/tts", params={"voice": "tara"}).status_code == 400


def test_seed_models_carry_the_license_block(client):
    body = client.get("/models").json()
    assert body["llm"]["license"] == "Gemma Terms of Use" and body["llm"]["license_url"].startswith(
        "https://"
    )
    assert body["tts"]["license"] == "Apache-2.0" and "tara" in body["tts"]["voices"]


def test_the_speech_websocket_sends_pcm_then_an_end_event_and_closes(client):
    with client.websocket_connect("/v1/audio/speech/stream/ws?voice=tara") as ws:
        ws.send_text("Hello there.")
        pcm = b""
        while True:
            message = ws.receive()
            if message.get("bytes") is not None:
                pcm += message["bytes"]
                continue
            end = json.loads(message["text"])
            break
        assert (
            end["type"] == "speech.end" and end["samples"] == len(pcm) // 2 == TTS_FRAMES * SAMPLES_PER_FRAME
        )
        assert ws.receive()["type"] == "websocket.close"


def test_max_completion_tokens_bounds_the_speech_websocket_as_every_door(settings, runtime):
    """The WebSocket passed no sampling parameters, so it spoke up to TTS_MAX_TOKENS whatever
    MAX_COMPLETION_TOKENS said; it now speaks through the same service, with the same caps."""
    from fastapi.testclient import TestClient

    from coordinator.server.app import create_app

    capped_frames = 5
    capped = settings.model_copy(update={"max_completion_tokens": capped_frames * 7})
    assert capped_frames < TTS_FRAMES
    with (
        TestClient(create_app(capped, runtime=runtime)) as client,
        client.websocket_connect("/v1/audio/speech/stream/ws?voice=tara") as ws,
    ):
        ws.send_text("Hello there.")
        while (message := ws.receive()).get("bytes") is not None:
            pass
        end = json.loads(message["text"])
    assert end["type"] == "speech.end" and end["samples"] == capped_frames * SAMPLES_PER_FRAME


def test_the_speech_websocket_reports_errors_and_closes_1008(client):
    with client.websocket_connect("/v1/audio/speech/stream/ws?voice=bob") as ws:
        ws.send_text("Hello")
        error = ws.receive_json()
        assert error["type"] == "error" and "unknown voice" in error["error"]["message"]
        closing = ws.receive()
        assert closing["type"] == "websocket.close" and closing["code"] == 1008


def test_a_binary_or_huge_first_message_is_an_error_event_then_close_1008_and_the_next_session_speaks(client):
    """A binary frame raised a KeyError (internal_error, 1011); 200,000 brackets (deep JSON for the
    voice WebSocket) are text over MAX_INPUT_CHARS here: both are the client's to fix."""
    refusals = []
    for send in (lambda ws: ws.send_bytes(b"\x00\x01"), lambda ws: ws.send_text("[" * 200_000)):
        with client.websocket_connect("/v1/audio/speech/stream/ws") as ws:
            send(ws)
            refusals.append((ws.receive_json()["error"], ws.receive()))
    (binary, closing), (huge, closing_huge) = refusals
    assert "binary" in binary["message"] and "as a text message" in binary["message"]
    # The same check, and the same words, as every other door (service/speech.py).
    assert (
        "200000 characters, over this server's limit" in huge["message"]
        and "MAX_INPUT_CHARS" in huge["message"]
    )
    assert closing["code"] == closing_huge["code"] == 1008
    with client.websocket_connect("/v1/audio/speech/stream/ws") as ws:
        ws.send_text("Hello there.")
        while (message := ws.receive()).get("bytes") is not None:
            pass
        assert json.loads(message["text"])["type"] == "speech.end"


def test_an_unexpected_failure_in_a_speech_websocket_is_an_internal_error_event_then_close_1011(
    client, runtime, monkeypatch
):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(runtime.tts, "speak", explode)
    with client.websocket_connect("/v1/audio/speech/stream/ws") as ws:
        ws.send_text("Hello")
        error = ws.receive_json()
        assert error["type"] == "error" and error["error"]["code"] == "internal_error"
        assert "secret" not in error["error"]["message"]
        closing = ws.receive()
        assert closing["type"] == "websocket.close" and closing["code"] == 1011


def test_a_speech_websocket_that_sends_nothing_is_told_why_and_closed(client, monkeypatch):
    from coordinator.server.routes import speech_ws

    monkeypatch.setattr(speech_ws, "WS_FIRST_MESSAGE_TIMEOUT_S", 0.2)
    with client.websocket_connect("/v1/audio/speech/stream/ws") as ws:
        error = ws.receive_json()
        assert "no text arrived within 0.2 s" in error["error"]["message"]
        closing = ws.receive()
        assert closing["type"] == "websocket.close" and closing["code"] == 1008
