"""The spoken form through the HTTP doors: /chat speaks its reply made for the ear while the text
the client receives stays the model's own; normalize: false on /v1/audio/speech, /chat and both
WebSockets speaks the text as written. A spy stands in for the language normalisers (another part
of issue 25) and records what reaches the speech model at its boundary."""

import json

import pytest

from coordinator.normalize.spans import Spoken, SpokenBuilder
from coordinator.service import sentences

CHAT = {"message": "Tell me something.", "voice": "zoe", "max_tokens": 60, "seed": 0}


@pytest.fixture
def upper(monkeypatch) -> list[str]:
    """A normaliser that speaks every text in capitals (so its hand is visible); records languages."""
    asked: list[str] = []

    def capitals(text: str, language: str) -> Spoken:
        asked.append(language)
        builder = SpokenBuilder(text)
        builder.replace(0, len(text), text.upper())
        return builder.build()

    monkeypatch.setattr(sentences, "spoken_form", capitals)
    return asked


@pytest.fixture
def given(tts, monkeypatch) -> list[str]:
    """What each utterance request gives the speech model."""
    texts: list[str] = []
    original = type(tts).utterance_request

    def spy(self, text, voice, params=None):
        texts.append(text)
        return original(self, text, voice, params)

    monkeypatch.setattr(type(tts), "utterance_request", spy)
    return texts


def _events(text: str) -> list[dict]:
    return [json.loads(line[len("data: ") :]) for line in text.splitlines() if line.startswith("data: ")]


def test_chat_speaks_the_reply_in_its_spoken_form_and_sends_the_models_own_text(client, upper, given):
    written = client.post("/chat", json={**CHAT, "stream_text": True}).text
    response = client.post("/chat", json={**CHAT, "stream_format": "sse"})
    assert response.status_code == 200
    events = _events(response.text)
    text = "".join(e["delta"] for e in events if e["type"] == "response.text.delta")
    assert text == written == events[-1]["text"]  # the client's text: the model's own
    assert any(char.islower() for char in text)
    assert given and all(utterance == utterance.upper() for utterance in given)  # the voice's: spoken form
    assert set(upper) == {"en"}


def test_chat_with_normalize_false_speaks_the_reply_as_written(client, upper, given):
    written = client.post("/chat", json={**CHAT, "stream_text": True}).text
    response = client.post("/chat", json={**CHAT, "normalize": False})
    assert response.status_code == 200
    assert upper == [] and " ".join(given).split() == written.split()


SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "tara", "max_tokens": 14}


@pytest.mark.parametrize(("normalize", "spoken"), [(True, "HELLO THERE."), (False, "Hello there.")])
def test_the_speech_route_reads_its_input_in_its_spoken_form_unless_told_not_to(
    client, upper, given, normalize, spoken
):
    response = client.post(
        "/v1/audio/speech", json={**SPEECH, "normalize": normalize, "response_format": "pcm"}
    )
    assert response.status_code == 200
    assert given == [spoken]


@pytest.mark.parametrize(("query", "spoken"), [("", "HELLO THERE."), ("&normalize=false", "Hello there.")])
def test_the_speech_websocket_takes_normalize_in_its_query(client, upper, given, query, spoken):
    with client.websocket_connect(f"/v1/audio/speech/stream/ws?voice=tara{query}") as ws:
        ws.send_text("Hello there.")
        while True:
            message = ws.receive()
            if message.get("text"):
                assert json.loads(message["text"])["type"] == "speech.end"
                break
    assert given == [spoken]


def test_a_normalize_query_that_is_not_yes_or_no_is_an_error_event(client):
    with client.websocket_connect("/v1/audio/speech/stream/ws?voice=tara&normalize=maybe") as ws:
        event = ws.receive_json()
    assert event["error"]["param"] == "normalize" and "true or false" in event["error"]["message"]


@pytest.mark.parametrize(
    ("value", "normalize"), [(None, True), ("true", True), ("false", False), ("0", False)]
)
def test_the_voice_websocket_takes_normalize_in_its_query(value, normalize):
    from coordinator.server.routes.voice_ws import _settings_of

    query = {} if value is None else {"normalize": value}
    assert _settings_of(query).normalize is normalize
