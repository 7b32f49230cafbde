"""WS /v1/realtime's edges over a plain WebSocket: hostile and wrong events are answered with
``error`` events in OpenAI's shape and the session goes on; the key travels as a Bearer header or as
a browser's subprotocol; realtime sessions count against the same caps as /v1/voice/ws."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json

import pytest
import websockets

from coordinator.config.settings import Settings
from coordinator.server.app import create_app
from tests.server.conftest import serving
from tests.server.realtime.wire import MODEL, assert_wellformed, ws_recorder

KEY = "realtime-key_1"
PATH = f"/v1/realtime?model={MODEL}"


def _ws(url: str) -> str:
    return url.replace("http://", "ws://") + PATH


def _event(kind: str, **fields) -> str:
    return json.dumps({"type": kind, **fields})


# (what is wrong, the frame, a word the error's message must hold)
BAD_FRAMES = [
    ("not JSON", "{oops", "JSON"),
    ("JSON nested past any sense", "[" * 200_000, "nested"),
    ("JSON that is not an object", "[1, 2]", "object"),
    ("no type", json.dumps({"event_id": "x"}), "type"),
    (
        "an unknown type",
        _event("input_audio_buffer.explode", event_id="evt_unknown"),
        "input_audio_buffer.explode",
    ),
    ("audio that is not base64", _event("input_audio_buffer.append", audio="%%% not base64 %%%"), "base64"),
    ("half a sample", _event("input_audio_buffer.append", audio=base64.b64encode(b"\x00").decode()), "audio"),
    ("an empty commit", _event("input_audio_buffer.commit", event_id="evt_empty"), "buffer"),
    ("a cancel with no response", _event("response.cancel"), "response"),
    (
        "a truncation of no item",
        _event("conversation.item.truncate", item_id="item_nope", content_index=0, audio_end_ms=0),
        "item_nope",
    ),
    ("a deletion of no item", _event("conversation.item.delete", item_id="item_gone"), "item_gone"),
    (
        "a session field of the wrong type",
        _event("session.update", session={"type": "realtime", "max_output_tokens": "lots"}),
        "max_output_tokens",
    ),
    (
        "an input format we do not take",
        _event(
            "session.update",
            session={"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}}}},
        ),
        "audio/pcmu",
    ),
    ("a binary frame", b"\x00\x01", "binary"),
]


def test_each_bad_event_gets_an_error_event_and_the_session_goes_on(realtime_url):
    async def scenario():
        async with websockets.connect(_ws(realtime_url)) as ws:
            events = ws_recorder(ws)
            await events.until("session.created")
            answers = []
            for _, frame, _ in BAD_FRAMES:
                await ws.send(frame)
                answers.append(await events.until("error"))
            await ws.send(_event("session.update", session={"type": "realtime", "instructions": "Be brief."}))
            updated = await events.until("session.updated")
            return answers, updated, events

    answers, updated, events = asyncio.run(scenario())
    wrong = [
        (what, answer["error"])
        for (what, _, word), answer in zip(BAD_FRAMES, answers, strict=True)
        if answer["error"]["type"] != "invalid_request_error"
        or answer["error"].get("code") == "internal_error"
        or word.lower() not in answer["error"]["message"].lower()
    ]
    assert not wrong, "errors that do not name the problem:\n" + "\n".join(map(str, wrong))
    # The client's event_id comes back with the error it caused, so a client can tell which one.
    assert answers[4]["error"]["event_id"] == "evt_unknown"
    assert answers[7]["error"]["event_id"] == "evt_empty"
    assert updated["session"]["instructions"] == "Be brief."
    assert_wellformed(events)


def test_tools_are_refused_with_an_error_naming_them_or_accepted(realtime_url):
    """Gemma 2 has no tool calling: a session that declares tools is told so (issue 26, point 5)."""
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather.",
        "parameters": {"type": "object"},
    }

    async def scenario():
        async with websockets.connect(_ws(realtime_url)) as ws:
            events = ws_recorder(ws)
            await events.until("session.created")
            await ws.send(_event("session.update", session={"type": "realtime", "tools": [tool]}))
            while (event := await events.next())["type"] not in ("error", "session.updated"):
                pass
            return event, events

    event, events = asyncio.run(scenario())
    if event["type"] == "error":
        assert "tools" in event["error"]["message"] and event["error"]["type"] == "invalid_request_error"
    else:
        assert event["session"]["tools"] == [tool]
    assert_wellformed(events)


@pytest.fixture(scope="module")
def secured_url(model_env, english_runtime):
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in model_env.items()}, api_key=KEY)
    with serving(create_app(settings, runtime=english_runtime)) as url:
        yield url


def test_the_openai_sdk_authenticates_with_a_bearer_header(secured_url):
    import openai

    async def session_with(key: str):
        client = openai.AsyncOpenAI(base_url=f"{secured_url}/v1", api_key=key, max_retries=0)
        async with client.realtime.connect(model=MODEL) as connection:
            return json.loads(await connection.recv_bytes())

    assert asyncio.run(session_with(KEY))["type"] == "session.created"
    refused = asyncio.run(session_with("wrong"))
    assert refused["type"] == "error" and refused["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("subprotocols", "accepted"),
    [
        (["realtime", f"openai-insecure-api-key.{KEY}"], True),  # what OpenAI's browser example sends
        ([f"openai-insecure-api-key.{KEY}"], True),
        (["realtime", "openai-insecure-api-key.nope"], False),
        (None, False),
    ],
)
def test_a_browser_sends_its_key_as_a_subprotocol(secured_url, subprotocols, accepted):
    async def scenario():
        async with websockets.connect(_ws(secured_url), subprotocols=subprotocols) as ws:
            first = json.loads(await ws.recv())
            with contextlib.suppress(websockets.ConnectionClosed):
                if not accepted:
                    await asyncio.wait_for(ws.wait_closed(), timeout=30)
            return first, ws.subprotocol, ws.close_code

    first, chosen, code = asyncio.run(scenario())
    if accepted:
        assert first["type"] == "session.created" and chosen in subprotocols
    else:
        assert first["error"]["code"] == "invalid_api_key" and code == 1008


@pytest.mark.parametrize("held_path", ["/v1/voice/ws?language=en", PATH])
def test_realtime_sessions_count_against_the_websocket_cap_like_the_voice_door(
    model_env, english_runtime, held_path
):
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in model_env.items()}, max_ws_sessions=1)

    async def scenario(url):
        base = url.replace("http://", "ws://")
        async with websockets.connect(base + held_path), websockets.connect(base + PATH) as ws:
            error = json.loads(await ws.recv())
            await asyncio.wait_for(ws.wait_closed(), timeout=30)
            return error, ws.close_code

    with serving(create_app(settings, runtime=english_runtime)) as url:
        error, code = asyncio.run(scenario(url))
    assert error["type"] == "error" and error["error"]["code"] == "too_many_sessions"
    assert "MAX_WS_SESSIONS" in error["error"]["message"] and code == 1013


@pytest.mark.parametrize(
    "event",
    [
        {"type": "session.update", "session": {"type": "realtime", "max_output_tokens": "inf"}},
        {"type": "session.update", "session": {"type": "realtime", "max_response_output_tokens": "inf"}},
    ],
)
def test_an_unlimited_reply_as_livekit_asks_by_default_is_taken(realtime_url, event):
    """LiveKit Agents' RealtimeModel sends max_output_tokens "inf" unless told otherwise; it is
    OpenAI's word for no cap (ours: the server's MAX_COMPLETION_TOKENS)."""

    async def scenario():
        async with websockets.connect(_ws(realtime_url)) as ws:
            events = ws_recorder(ws)
            await events.until("session.created")
            await ws.send(json.dumps(event))
            return await events.until("session.updated"), events

    updated, events = asyncio.run(scenario())
    assert updated["session"]["max_output_tokens"] == "inf"
    assert_wellformed(events)
