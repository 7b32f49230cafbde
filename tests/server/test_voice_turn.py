"""/chat with the user's turn as audio: transcribed by the tiny random Whisper, answered by the tiny
chat model, spoken by the tiny Orpheus, end to end. The words are meaningless; the plumbing is not."""

from __future__ import annotations

import base64
import io
import urllib.parse

import pytest
import soundfile as sf

from tests.rig.audio_samples import encode, spoken


@pytest.fixture(scope="module")
def question() -> str:
    samples, rate = spoken("What is the weather like today?")
    return base64.b64encode(encode(samples, rate, "webm")).decode()


def _transcript(response) -> str:
    return urllib.parse.unquote(response.headers["x-transcript"])


def test_a_spoken_turn_is_transcribed_answered_and_spoken_with_its_transcript_in_a_header(client, question):
    response = client.post("/chat", json={"audio": question, "language": "en", "max_tokens": 12, "seed": 0})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(response.content))
    assert rate == 24000 and len(audio) > 0
    assert _transcript(response).strip()
    assert response.headers["x-transcript-language"] == "en"


def test_the_transcript_is_the_same_as_the_transcription_endpoint_gives(client, question):
    data = base64.b64decode(question)
    expected = client.post(
        "/v1/audio/transcriptions", files={"file": ("q.webm", data)}, data={"language": "en"}
    ).json()["text"]
    turn = client.post(
        "/chat", json={"audio": question, "language": "en", "stream_text": True, "max_tokens": 8, "seed": 0}
    )
    assert turn.status_code == 200 and turn.headers["content-type"].startswith("text/plain")
    assert _transcript(turn) == expected


def test_a_turn_with_both_text_and_audio_or_neither_is_a_400(client, question):
    both = client.post("/chat", json={"message": "Hi", "audio": question})
    neither = client.post("/chat", json={"voice": "tara"})
    for response in (both, neither):
        assert response.status_code == 400
        assert "either message" in response.json()["error"]["message"]


def test_audio_that_is_not_base64_or_not_audio_is_a_400_naming_audio(client):
    not_base64 = client.post("/chat", json={"audio": "%%% not base64 %%%"})
    assert not_base64.status_code == 400 and not_base64.json()["error"]["param"] == "audio"
    not_audio = client.post("/chat", json={"audio": base64.b64encode(b"plain text " * 50).decode()})
    assert not_audio.status_code == 400
    assert (
        not_audio.json()["error"]["param"] == "audio" and not_audio.json()["error"]["code"] == "invalid_audio"
    )


def test_an_unknown_voice_with_a_spoken_turn_is_a_400_naming_the_voice(client, question):
    response = client.post("/chat", json={"audio": question, "voice": "nobody"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "voice"
