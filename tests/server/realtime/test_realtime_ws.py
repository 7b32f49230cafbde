"""WS /v1/realtime through the app (starlette's test client, the lifespan run): OpenAI's event
names and order for a text turn and a spoken one, the beta dialect, per-response overrides,
truncation, transcription-only sessions, hostile frames, auth and the session caps. The tiny
random models speak nonsense; the events are what is checked."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from coordinator.config.settings import Settings
from coordinator.server.app import create_app
from tests.rig.audio_samples import pcm16, spoken

RATE = 24_000
CHUNK_S = 0.1
KEY = "realtime-key_1"
# Deltas come in runs; the order test compares the sequence with each run collapsed to one.
DELTAS = (
    "response.output_audio.delta",
    "response.output_audio_transcript.delta",
    "response.output_text.delta",
)


def _user_text(text: str) -> dict:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": item}


def _until(ws, kind: str, seen: list | None = None) -> dict:
    while True:
        event = ws.receive_json()
        if seen is not None:
            seen.append(event)
        if event["type"] == kind:
            return event
        assert event["type"] != "error", event


def _collapsed(events: list[dict]) -> list[str]:
    kinds: list[str] = []
    for event in events:
        if not (kinds and kinds[-1] == event["type"] in DELTAS):
            kinds.append(event["type"])
    return kinds


@pytest.fixture(scope="module")
def speech_24k() -> bytes:
    samples, rate = spoken("Hello there. Tell me a story about a cat.")
    times = np.arange(int(samples.size * RATE / rate)) / RATE
    return pcm16(np.interp(times, np.arange(samples.size) / rate, samples).astype(np.float32))


def _append_all(ws, pcm: bytes) -> None:
    step = int(CHUNK_S * RATE) * 2
    for start in range(0, len(pcm), step):
        ws.send_json(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(pcm[start : start + step]).decode(),
            }
        )


def test_a_text_turn_is_answered_with_openais_events_in_their_order(client):
    with client.websocket_connect("/v1/realtime?model=gpt-realtime") as ws:
        created = ws.receive_json()
        ws.send_json({"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}})
        updated = _until(ws, "session.updated")
        ws.send_json(_user_text("Hello there."))
        ws.send_json({"type": "response.create", "response": {"max_output_tokens": 16}})
        seen: list[dict] = []
        done = _until(ws, "response.done", seen)
    assert created["type"] == "session.created" and created["session"]["model"] == "gpt-realtime"
    assert created["session"]["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert updated["session"]["instructions"] == "Be brief."
    order = _collapsed(seen)
    assert order[:3] == ["conversation.item.added", "conversation.item.done", "response.created"]
    assert order[3:6] == [
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
    ]
    assert order[-6:] == [
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    audio = b"".join(base64.b64decode(e["delta"]) for e in seen if e["type"] == "response.output_audio.delta")
    assert len(audio) > 0 and len(audio) % 2 == 0  # pcm16
    transcript = "".join(e["delta"] for e in seen if e["type"] == "response.output_audio_transcript.delta")
    response = done["response"]
    assert (
        response["status"] == "completed"
        and response["output"][0]["content"][0]["transcript"] == transcript.strip()
    )
    usage = response["usage"]
    assert usage["output_token_details"]["text_tokens"] <= 16 and usage["input_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert all(e["event_id"].startswith("event_") for e in seen)


def test_a_beta_client_hears_the_beta_names(client):
    with client.websocket_connect("/v1/realtime", headers={"OpenAI-Beta": "realtime=v1"}) as ws:
        created = ws.receive_json()
        ws.send_json(_user_text("Hi."))
        ws.send_json({"type": "response.create", "response": {"max_response_output_tokens": 8}})
        seen: list[dict] = []
        _until(ws, "response.done", seen)
    assert created["session"]["input_audio_format"] == "pcm16"
    kinds = {e["type"] for e in seen}
    assert {"conversation.item.created", "response.audio.delta", "response.audio_transcript.delta"} <= kinds
    assert not kinds & {"conversation.item.added", "conversation.item.done", "response.output_audio.delta"}


def test_a_response_may_override_the_session_text_only_here(client):
    with client.websocket_connect("/v1/realtime") as ws:
        ws.receive_json()
        ws.send_json(_user_text("Hi."))
        ws.send_json(
            {"type": "response.create", "response": {"output_modalities": ["text"], "max_output_tokens": 8}}
        )
        seen: list[dict] = []
        done = _until(ws, "response.done", seen)
    kinds = [e["type"] for e in seen]
    assert "response.output_text.delta" in kinds and "response.output_text.done" in kinds
    assert not any("audio" in kind for kind in kinds)
    assert done["response"]["output"][0]["content"][0]["type"] == "output_text"


def test_a_spoken_turn_committed_by_hand_is_transcribed_then_answered_and_truncated(client, speech_24k):
    with client.websocket_connect("/v1/realtime") as ws:
        ws.receive_json()
        ws.send_json(
            {
                "type": "session.update",
                "session": {
                    "audio": {"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}}
                },
            }
        )
        _until(ws, "session.updated")
        _append_all(ws, speech_24k)
        ws.send_json({"type": "input_audio_buffer.commit"})
        seen: list[dict] = []
        committed = _until(ws, "input_audio_buffer.committed", seen)
        transcribed = _until(ws, "conversation.item.input_audio_transcription.completed", seen)
        _until(ws, "conversation.item.done", seen)
        ws.send_json({"type": "response.create", "response": {"max_output_tokens": 16}})
        done = _until(ws, "response.done", seen)
        item_id = done["response"]["output"][0]["id"]
        ws.send_json(
            {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 0}
        )
        truncated = _until(ws, "conversation.item.truncated")
        ws.send_json({"type": "conversation.item.retrieve", "item_id": item_id})
        retrieved = _until(ws, "conversation.item.retrieved")
        ws.send_json(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 10**9,
            }
        )
        beyond = ws.receive_json()
    assert transcribed["item_id"] == committed["item_id"] and isinstance(transcribed["transcript"], str)
    assert [e["type"] for e in seen].index("conversation.item.added") > 0
    assert truncated["audio_end_ms"] == 0 and retrieved["item"]["content"][0]["transcript"] == ""
    assert beyond["type"] == "error" and beyond["error"]["param"] == "audio_end_ms"


def test_a_transcription_session_transcribes_and_never_answers(client, speech_24k):
    with client.websocket_connect("/v1/realtime?intent=transcription") as ws:
        created = ws.receive_json()
        ws.send_json(
            {
                "type": "session.update",
                "session": {"type": "transcription", "audio": {"input": {"turn_detection": None}}},
            }
        )
        _until(ws, "session.updated")
        ws.send_json({"type": "response.create"})
        refused = ws.receive_json()
        _append_all(ws, speech_24k)
        ws.send_json({"type": "input_audio_buffer.commit"})
        transcribed = _until(ws, "conversation.item.input_audio_transcription.completed")
    assert created["session"]["type"] == "transcription"
    assert refused["type"] == "error" and "transcription session" in refused["error"]["message"]
    assert isinstance(transcribed["transcript"], str)


@pytest.mark.parametrize(
    ("frame", "code", "param"),
    [
        ("not json", "invalid_value", "type"),
        (json.dumps([1, 2]), "invalid_value", "type"),
        (json.dumps({"type": "no.such.event", "event_id": "evt_1"}), "invalid_event", "type"),
        (json.dumps({"type": "input_audio_buffer.append", "audio": "%%%"}), "invalid_value", "audio"),
        (
            json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(b"abc").decode()}),
            "invalid_value",
            "audio",
        ),
        (json.dumps({"type": "input_audio_buffer.commit"}), "input_audio_buffer_commit_empty", "type"),
        (json.dumps({"type": "response.cancel"}), "response_cancel_not_active", "type"),
        (json.dumps({"type": "response.create"}), "conversation_empty", "response"),
        (json.dumps({"type": "conversation.item.delete", "item_id": "nope"}), "item_not_found", "item_id"),
        (
            json.dumps({"type": "session.update", "session": {"tools": [{"type": "function"}]}}),
            "tools_not_supported",
            "session.tools",
        ),
        (
            json.dumps({"type": "session.update", "session": {"voice": "no-such-voice"}}),
            None,
            "session.voice",
        ),
        (
            json.dumps({"type": "session.update", "session": {"instructions": "x" * 10**6}}),
            "invalid_value",
            "session.instructions",
        ),
        ("[" * 100_000, "invalid_value", "type"),
    ],
)
def test_a_bad_event_gets_an_error_event_and_the_session_goes_on(client, frame, code, param):
    with client.websocket_connect("/v1/realtime") as ws:
        ws.receive_json()
        ws.send_text(frame)
        error = ws.receive_json()
        ws.send_json({"type": "session.update", "session": {}})
        still = ws.receive_json()
    assert error["type"] == "error" and error["error"]["param"] == param
    assert code is None or error["error"]["code"] == code
    assert error["error"]["type"] == "invalid_request_error" and error["error"]["message"]
    assert still["type"] == "session.updated"


def test_binary_frames_and_an_overfull_buffer_are_refused(client):
    with client.websocket_connect("/v1/realtime") as ws:
        ws.receive_json()
        ws.send_bytes(b"\x00\x01")
        binary = ws.receive_json()
        ws.send_json({"type": "session.update", "session": {"turn_detection": None}})
        _until(ws, "session.updated")
        second = base64.b64encode(bytes(RATE * 2)).decode()
        errors = []
        for _ in range(31):
            ws.send_json({"type": "input_audio_buffer.append", "audio": second})
        ws.send_json({"type": "input_audio_buffer.clear"})
        while (event := ws.receive_json())["type"] != "input_audio_buffer.cleared":
            errors.append(event)
    assert binary["type"] == "error" and "input_audio_buffer.append" in binary["error"]["message"]
    assert [e["error"]["code"] for e in errors] == ["input_audio_buffer_full"]


@pytest.fixture(scope="module")
def secured(model_env, runtime):
    settings = Settings(
        _env_file=None, **{k.lower(): v for k, v in model_env.items()}, api_key=KEY, max_ws_sessions=1
    )
    with TestClient(create_app(settings, runtime=runtime)) as client:
        yield client


def test_a_browser_sends_its_key_as_a_subprotocol_and_gets_realtime_selected(secured):
    offered = ["realtime", f"openai-insecure-api-key.{KEY}", "openai-beta.realtime-v1"]
    with secured.websocket_connect("/v1/realtime", subprotocols=offered) as ws:
        created = ws.receive_json()
        assert ws.accepted_subprotocol == "realtime"
        # One session at most (MAX_WS_SESSIONS=1): the second is refused, as on every WebSocket.
        with secured.websocket_connect("/v1/realtime", headers={"Authorization": f"Bearer {KEY}"}) as second:
            refused = second.receive_json()
    assert (
        created["type"] == "session.created" and created["session"]["input_audio_format"] == "pcm16"
    )  # beta
    assert refused["error"]["code"] == "too_many_sessions"
    with secured.websocket_connect("/v1/realtime", headers={"Authorization": "Bearer wrong"}) as bad:
        assert bad.receive_json()["error"]["code"] == "invalid_api_key"
    with secured.websocket_connect("/v1/realtime", headers={"Authorization": f"Bearer {KEY}"}) as good:
        assert good.receive_json()["type"] == "session.created"
