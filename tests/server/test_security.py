"""API keys, request limits, WebSocket sessions, CORS and serve's refusal to listen openly."""

import asyncio
import contextlib
import io
import json

import openai
import pytest
import soundfile as sf
import websockets
from fastapi.testclient import TestClient

from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.cli import main
from coordinator.config.settings import Settings
from coordinator.errors import ConfigError, TooManySessionsError
from coordinator.server.app import create_app
from coordinator.service.auth import check_bind, key_digest, key_matches
from coordinator.service.connections import ClientSlots, is_loopback
from tests.server.conftest import serving

KEY, SECOND_KEY = "first-key_1", "second.key~2"
BEARER = {"Authorization": f"Bearer {KEY}"}
WS_URL = "/v1/audio/speech/stream/ws"
WS_KEY_PROTOCOL = f"openai-insecure-api-key.{KEY}"
ORIGIN = "https://app.example"
LIMITS = {
    "max_body_bytes": 2048,
    "max_completion_tokens": 24,
    "max_history_messages": 2,
    "max_ws_sessions": 1,
    "max_input_chars": 100,
}
CHAT = {"model": "gemma-2-2b-instruct", "messages": [{"role": "user", "content": "Hi"}], "seed": 1}
SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "tara", "response_format": "pcm"}

# One request per route family; every one needs the key.
PROTECTED = [
    ("GET", "/v1/models", None),
    ("POST", "/v1/audio/voices", None),  # only reading the listings is open
    ("POST", "/v1/audio/speech", SPEECH),
    ("POST", "/v1/audio/speech/stream", SPEECH),
    ("POST", "/v1/chat/completions", CHAT),
    ("POST", "/v1/completions", {"model": "gemma-2-2b-instruct", "prompt": "Once"}),
    ("POST", "/chat", {"message": "Hi"}),
    ("GET", "/tts?prompt=Hi", None),
    ("GET", "/models", None),
    ("GET", "/v1/status", None),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
    ("GET", "/v1/no-such-route", None),
]


def _app(model_env, runtime, **changes):
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in model_env.items()}, **changes)
    return create_app(settings, runtime=runtime)


@pytest.fixture(scope="module")
def secured(model_env, runtime):
    with TestClient(_app(model_env, runtime, api_key=f"{KEY}, {SECOND_KEY}")) as client:
        yield client


@pytest.fixture(scope="module")
def limited(model_env, runtime):
    with TestClient(_app(model_env, runtime, **LIMITS)) as client:
        yield client


def _assert_401(response, message):
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_api_key"
    assert message in error["message"] and "Authorization: Bearer YOUR_KEY" in error["message"]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_every_route_without_a_key_is_401_in_openai_shape(secured, method, path, body):
    _assert_401(secured.request(method, path, json=body), "You didn't provide an API key")


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_every_route_with_a_wrong_key_is_401(secured, method, path, body):
    response = secured.request(method, path, json=body, headers={"Authorization": f"Bearer {KEY}x"})
    _assert_401(response, "Incorrect API key provided")


def test_a_key_in_another_scheme_is_refused_naming_bearer(secured):
    response = secured.get("/v1/models", headers={"Authorization": f"Basic {KEY}"})
    _assert_401(response, "must use the Bearer scheme")


def test_a_refusal_carries_a_request_id_and_is_counted_in_the_metrics(secured):
    from prometheus_client.parser import text_string_to_metric_families

    def refused_401() -> float:
        scrape = secured.get("/metrics", headers={"Authorization": f"Bearer {KEY}"}).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(scrape)
            for sample in family.samples
            if sample.name == "orpheus_http_requests_total" and sample.labels.get("status") == "401"
        )

    before = refused_401()
    response = secured.get("/v1/models", headers={"X-Request-ID": "refused-1"})
    assert response.status_code == 401 and response.headers["x-request-id"] == "refused-1"
    assert refused_401() == before + 1


def test_health_stays_open_for_load_balancers(secured):
    assert secured.get("/health").json()["status"] == "ok"


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v1/audio/voices", "voices"),
        ("/v1/audio/voices/", "voices"),
        ("/v1/audio/models", "models"),
        ("/v1/audio/voices/tts-1", "voices"),
        ("/v1/audio/voices/orpheus-3b-ft/", "voices"),
    ],
)
def test_the_name_listings_answer_without_a_key_as_open_webui_and_sillytavern_ask(secured, path, key):
    # Open WebUI and SillyTavern's TTS WebUI provider send no Authorization header for these.
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = secured.get(path, headers=headers)
        assert response.status_code == 200 and response.json()[key]


def test_only_reading_the_listings_is_open(secured):
    assert secured.head("/v1/audio/voices").status_code in (200, 405)  # never a 401
    _assert_401(secured.post("/v1/audio/models"), "You didn't provide an API key")
    _assert_401(secured.get("/v1/audio/voices/tts-1/x"), "You didn't provide an API key")


@pytest.mark.parametrize("key", [KEY, SECOND_KEY])
def test_each_configured_key_is_accepted(secured, key):
    headers = {"Authorization": f"bearer {key}"}  # the scheme is case-insensitive (RFC 9110)
    assert secured.get("/v1/models", headers=headers).status_code == 200
    response = secured.get("/tts", params={"prompt": "Hello", "max_tokens": 35}, headers=headers)
    assert len(sf.read(io.BytesIO(response.content))[0]) == 5 * SAMPLES_PER_FRAME


@pytest.fixture(scope="module")
def secured_url(model_env, runtime):
    with serving(_app(model_env, runtime, api_key=KEY)) as url:
        yield url


def test_the_openai_client_authenticates_with_its_api_key_over_the_wire(secured_url):
    good = openai.OpenAI(base_url=f"{secured_url}/v1", api_key=KEY, max_retries=0)
    assert [m.id for m in good.models.list()] == ["orpheus-3b-ft", "gemma-2-2b-instruct", "whisper"]
    speech = good.audio.speech.create(
        model="tts-1", voice="tara", input="Hi.", response_format="pcm", extra_body={"max_tokens": 35}
    )
    assert len(speech.content) == 5 * SAMPLES_PER_FRAME * 2
    bad = openai.OpenAI(base_url=f"{secured_url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.models.list()
    assert info.value.code == "invalid_api_key"


def test_a_real_websocket_client_authenticates_with_the_subprotocol(secured_url):
    url = secured_url.replace("http://", "ws://") + WS_URL

    async def talk(subprotocols):
        messages = []
        async with websockets.connect(url, subprotocols=subprotocols) as ws:
            if subprotocols:
                await ws.send("Hi.")
            with contextlib.suppress(websockets.ConnectionClosedError):  # raised for a 1008 close
                async for message in ws:
                    messages.append(message)
        return ws, messages

    ws, messages = asyncio.run(talk([WS_KEY_PROTOCOL]))
    assert ws.subprotocol == WS_KEY_PROTOCOL and ws.close_code == 1000
    assert json.loads(messages[-1])["type"] == "speech.end" and isinstance(messages[0], bytes)
    ws, messages = asyncio.run(talk(None))
    assert ws.close_code == 1008 and ws.close_reason == "You didn't provide an API key"
    assert json.loads(messages[0])["error"]["code"] == "invalid_api_key"


def _refusal(ws):
    error = ws.receive_json()
    closing = ws.receive()
    assert closing["type"] == "websocket.close"
    return error, closing


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "You didn't provide an API key"),
        ({"headers": {"Authorization": "Bearer nope"}}, "Incorrect API key provided"),
        ({"subprotocols": ["openai-insecure-api-key.nope"]}, "Incorrect API key provided"),
    ],
)
def test_the_websocket_without_a_valid_key_says_why_and_closes_1008(secured, kwargs, message):
    with secured.websocket_connect(WS_URL, **kwargs) as ws:
        error, closing = _refusal(ws)
    assert error["type"] == "error" and error["error"]["code"] == "invalid_api_key"
    assert message in error["error"]["message"] and "openai-insecure-api-key." in error["error"]["message"]
    assert closing["code"] == 1008 and closing["reason"] == message


def _speak(ws):
    ws.send_text("Hi.")
    pcm = b""
    while (message := ws.receive()).get("bytes") is not None:
        pcm += message["bytes"]
    return pcm, message


def test_the_websocket_takes_the_key_from_the_header(secured):
    with secured.websocket_connect(f"{WS_URL}?voice=tara", headers=BEARER) as ws:
        pcm, end = _speak(ws)
    assert '"speech.end"' in end["text"] and len(pcm) > 0


def test_a_browser_sends_the_key_as_a_subprotocol_and_gets_it_selected(secured):
    # Browsers fail the handshake when they offered subprotocols and the server picked none.
    with secured.websocket_connect(WS_URL, subprotocols=[WS_KEY_PROTOCOL]) as ws:
        assert ws.accepted_subprotocol == WS_KEY_PROTOCOL
        pcm, end = _speak(ws)
    assert '"speech.end"' in end["text"] and len(pcm) > 0


def test_key_matching_accepts_exactly_the_configured_keys():
    accepted = [key_digest(KEY), key_digest(SECOND_KEY)]
    assert key_matches(KEY, accepted) and key_matches(SECOND_KEY, accepted)
    for wrong in ["", KEY[:-1], KEY + "1", KEY.upper(), " " + KEY, "ключ", "\udcff"]:
        assert not key_matches(wrong, accepted)
    assert not key_matches(KEY, [])


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("myhost.lan", False),
        ("", False),
    ],
)
def test_loopback_is_only_what_other_machines_cannot_reach(host, loopback):
    assert is_loopback(host) is loopback


def test_listening_openly_needs_a_key_or_an_explicit_opt_out():
    check_bind("127.0.0.1", has_api_key=False, allow_no_auth=False)
    check_bind("0.0.0.0", has_api_key=True, allow_no_auth=False)
    check_bind("0.0.0.0", has_api_key=False, allow_no_auth=True)
    with pytest.raises(ConfigError, match="refusing to listen on 0.0.0.0.*API_KEY=.*ALLOW_NO_AUTH=1"):
        check_bind("0.0.0.0", has_api_key=False, allow_no_auth=False)


@pytest.fixture
def no_uvicorn(monkeypatch):
    """Record what serve would start instead of starting it."""
    from coordinator.server.lifecycle import GracefulServer

    calls = []

    def record(server, sockets=None):
        config = server.config
        calls.append({"host": config.host, "port": config.port, "ws_max_size": config.ws_max_size})

    monkeypatch.setattr(GracefulServer, "run", record)
    return calls


def test_serve_on_all_interfaces_without_a_key_exits_1_naming_both_fixes(
    cli_env, no_uvicorn, monkeypatch, capsys
):
    monkeypatch.delenv("API_KEY", raising=False)
    monkeypatch.delenv("ALLOW_NO_AUTH", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "API_KEY=" in error and "ALLOW_NO_AUTH=1" in error
    assert no_uvicorn == []


@pytest.mark.parametrize("env", [{"API_KEY": KEY}, {"ALLOW_NO_AUTH": "1"}])
def test_serve_on_all_interfaces_starts_with_a_key_or_the_opt_out(cli_env, no_uvicorn, monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", "--host", "0.0.0.0", "--port", "8099"]) == 0
    assert len(no_uvicorn) == 1
    assert no_uvicorn[0]["host"] == "0.0.0.0" and no_uvicorn[0]["port"] == 8099
    assert no_uvicorn[0]["ws_max_size"] == 1024 * 1024


def test_a_body_over_the_limit_is_413_before_it_is_read(limited):
    response = limited.post("/v1/audio/speech", json={**SPEECH, "input": "a" * 3000})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "request_too_large" and "2048 bytes (MAX_BODY_BYTES)" in error["message"]


def test_a_chunked_body_without_content_length_is_counted_as_it_arrives(limited):
    def chunks(total):
        yield b'{"model": "gemma-2-2b-instruct", "max_tokens": 2, "prompt": "'
        yield from [b"a" * 50] * (total // 50)
        yield b'"}'

    response = limited.post(
        "/v1/completions", content=chunks(3000), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    # Under the limit, the same chunked upload reaches the route whole (here: its length check).
    response = limited.post(
        "/v1/completions", content=chunks(150), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "prompt is 150 characters" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", {**CHAT, "max_tokens": 25}, "max_tokens"),
        (
            "/v1/chat/completions",
            {**CHAT, "max_completion_tokens": 25, "max_tokens": 5},
            "max_completion_tokens",
        ),
        (
            "/v1/completions",
            {"model": "gemma-2-2b-instruct", "prompt": "Once", "max_tokens": 25},
            "max_tokens",
        ),
        ("/chat", {"message": "Hi", "max_tokens": 25, "stream_text": True}, "max_tokens"),
    ],
)
def test_max_tokens_over_the_servers_cap_is_400_naming_the_cap(limited, path, body, param):
    response = limited.post(path, json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param and "at most 24 tokens" in error["message"]
    assert "MAX_COMPLETION_TOKENS" in error["message"]


def test_max_tokens_at_the_cap_and_the_default_under_it_are_served(limited):
    body = limited.post("/v1/chat/completions", json={**CHAT, "max_tokens": 24}).json()
    assert body["usage"]["completion_tokens"] <= 24
    # Without max_tokens the chat default (512) would exceed the cap: it is lowered to the cap.
    assert limited.post("/v1/chat/completions", json=CHAT).json()["usage"]["completion_tokens"] <= 24


def _turns(count):
    return [{"role": ("user", "assistant")[i % 2], "content": f"turn {i}"} for i in range(count)]


def test_chat_history_over_the_cap_is_400(limited):
    body = {"message": "Hi", "stream_text": True, "max_tokens": 4, "seed": 1}
    assert limited.post("/chat", json={**body, "history": _turns(2)}).status_code == 200
    response = limited.post("/chat", json={**body, "history": _turns(3)})
    error = response.json()["error"]
    assert response.status_code == 400 and error["param"] == "history"
    assert "3 earlier messages" in error["message"] and "MAX_HISTORY_MESSAGES" in error["message"]


def test_chat_completion_messages_over_the_history_cap_are_400(limited):
    messages = [*_turns(3), {"role": "user", "content": "Hi"}]
    response = limited.post("/v1/chat/completions", json={**CHAT, "messages": messages})
    assert response.status_code == 400 and response.json()["error"]["param"] == "messages"


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/chat", {"message": "a" * 101}, "message"),
        (
            "/chat",
            {"message": "Hi", "history": [{"role": "user", "content": "a" * 101}]},
            "history.0.content",
        ),
        (
            "/v1/chat/completions",
            {**CHAT, "messages": [{"role": "user", "content": "a" * 101}]},
            "messages.0.content",
        ),
        ("/v1/completions", {"model": "gemma-2-2b-instruct", "prompt": "a" * 101}, "prompt"),
    ],
)
def test_text_over_max_input_chars_is_400_on_the_text_routes(limited, path, body, param):
    response = limited.post(path, json=body)
    error = response.json()["error"]
    assert response.status_code == 400 and error["param"] == param
    assert "101 characters" in error["message"] and "MAX_INPUT_CHARS" in error["message"]


def test_websocket_sessions_over_the_cap_are_closed_1013_and_the_slot_comes_back(limited):
    with limited.websocket_connect(WS_URL) as first:
        with limited.websocket_connect(WS_URL) as second:
            error, closing = _refusal(second)
        assert (
            error["error"]["code"] == "too_many_sessions" and "MAX_WS_SESSIONS" in error["error"]["message"]
        )
        assert closing["code"] == 1013
        first.close()
    with limited.websocket_connect(f"{WS_URL}?voice=bob") as third:  # served: the voice is checked
        third.send_text("Hi.")
        error, closing = _refusal(third)
    assert "unknown voice" in error["error"]["message"] and closing["code"] == 1008


def test_client_slots_hold_a_share_per_address_within_the_total_and_come_back():
    slots = ClientSlots("sessions", total=2, per_client=1, total_setting="TOTAL", client_setting="EACH")
    with slots.held("10.0.0.1"):
        with pytest.raises(TooManySessionsError, match=r"per address at once \(EACH\), and 10.0.0.1 holds"):
            slots.held("10.0.0.1").__enter__()
        with slots.held(None):  # no address known: counted together, under one name
            assert slots.of("unknown") == 1 and slots.open == 2
            with pytest.raises(TooManySessionsError, match=r"allows 2 at once \(TOTAL\)"):
                slots.held("10.0.0.3").__enter__()
    assert slots.open == 0
    with slots.held("10.0.0.1"):
        assert slots.of("10.0.0.1") == 1


# Other loopback addresses stand for other machines: Linux answers on all of 127.0.0.0/8.
HOG, NEIGHBOUR, LATECOMER = "127.0.0.1", "127.0.0.2", "127.0.0.3"


async def _speech_served(ws) -> str:
    await ws.send("Hi.")
    async for message in ws:
        if isinstance(message, str):
            return json.loads(message)["type"]
    raise AssertionError("closed without an answer")


async def _voice_served(ws) -> str:
    return json.loads(await ws.recv())["type"]


# Every long-lived WebSocket door, and what a served session answers first.
WS_DOORS = {
    "speech": (WS_URL, _speech_served, "speech.end"),
    "voice": ("/v1/voice/ws", _voice_served, "session.created"),
}


@pytest.mark.parametrize("door", WS_DOORS)
def test_one_client_address_holds_its_share_of_websocket_sessions_and_others_are_served(
    model_env, runtime, door
):
    """One client keeping all 32 sessions alive locked everyone else out: an address holds at most
    MAX_WS_SESSIONS_PER_CLIENT, refused like the total (an error event, close 1013)."""
    path, served, answer = WS_DOORS[door]
    app = _app(model_env, runtime, max_ws_sessions=3, max_ws_sessions_per_client=2)

    async def refused(url, source):
        async with websockets.connect(url, local_addr=(source, 0)) as ws:
            error = json.loads(await ws.recv())
            await asyncio.wait_for(ws.wait_closed(), timeout=10)
        return error["error"], ws.close_code, ws.close_reason

    async def scenario(url):
        async with contextlib.AsyncExitStack() as held:
            for _ in range(2):  # once connected, counted: the slot is taken before the handshake ends
                await held.enter_async_context(websockets.connect(url, local_addr=(HOG, 0)))
            over_share = await refused(url, HOG)
            neighbour = await held.enter_async_context(websockets.connect(url, local_addr=(NEIGHBOUR, 0)))
            over_total = await refused(url, LATECOMER)
            return over_share, over_total, await served(neighbour)

    with serving(app) as url:
        over_share, over_total, first = asyncio.run(scenario(url.replace("http://", "ws://") + path))
    error, code, reason = over_share
    assert error["code"] == "too_many_sessions" and "(MAX_WS_SESSIONS_PER_CLIENT)" in error["message"]
    assert f"{HOG} holds them all" in error["message"] and code == 1013
    assert reason == "too many WebSocket sessions from one client address"
    error, code, _ = over_total
    assert error["code"] == "too_many_sessions" and "(MAX_WS_SESSIONS)" in error["message"] and code == 1013
    assert first == answer


PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def test_cors_allows_a_listed_origin_and_no_other(model_env, runtime):
    app = _app(model_env, runtime, api_key=KEY, cors_origins=f"{ORIGIN}, https://other.example")
    with TestClient(app) as client:
        allowed = client.options("/v1/audio/speech", headers={"Origin": ORIGIN, **PREFLIGHT})
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        refused = client.options("/v1/audio/speech", headers={"Origin": "https://evil.example", **PREFLIGHT})
        assert "access-control-allow-origin" not in refused.headers
        # A refusal reaches the page too, so it can tell the user the key is wrong.
        response = client.get("/v1/models", headers={"Origin": ORIGIN})
        assert response.status_code == 401 and response.headers["access-control-allow-origin"] == ORIGIN


def test_cors_is_off_unless_origins_are_listed(secured):
    response = secured.options("/v1/audio/speech", headers={"Origin": ORIGIN, **PREFLIGHT})
    assert "access-control-allow-origin" not in response.headers
    response = secured.get("/health", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers


def test_the_app_takes_its_runtimes_settings_when_given_none(runtime):
    assert create_app(runtime=runtime).state.settings is runtime.settings
