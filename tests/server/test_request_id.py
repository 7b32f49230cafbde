"""X-Request-ID: taken from the client or made up, echoed on every response, carried by the logs."""

import io
import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from coordinator.logs import RequestIdFilter, configure_logging
from coordinator.server.app import create_app

SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "tara", "max_tokens": 35, "seed": 1}
GENERATED = re.compile(r"[0-9a-f]{32}")
handler_log = logging.getLogger("tests.handler")


@pytest.fixture(scope="module")
def app_client(settings, runtime):
    """The app plus two routes of its own: one that logs, one that fails unexpectedly."""
    app = create_app(settings, runtime=runtime)

    @app.get("/logs-something")
    async def logs_something() -> dict:
        handler_log.warning("inside the handler")
        return {}

    @app.get("/fails")
    async def fails() -> dict:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_a_valid_request_id_is_echoed(app_client):
    response = app_client.get("/health", headers={"X-Request-ID": "trace-42/a:b"})
    assert response.headers["x-request-id"] == "trace-42/a:b"


def test_without_one_an_id_is_generated_per_request(app_client):
    first = app_client.get("/health").headers["x-request-id"]
    second = app_client.get("/health").headers["x-request-id"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second


@pytest.mark.parametrize("bad", ["has space", "x" * 129, ""])
def test_an_invalid_request_id_is_replaced(app_client, bad):
    echoed = app_client.get("/health", headers={"X-Request-ID": bad}).headers["x-request-id"]
    assert GENERATED.fullmatch(echoed)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/audio/speech", {**SPEECH, "voice": "bob"}, 400),
        ("POST", "/v1/audio/speech", {"input": 3}, 400),
        ("GET", "/v1/nothing", None, 404),
        ("GET", "/v1/audio/speech", None, 405),
        ("GET", "/fails", None, 500),
    ],
)
def test_error_responses_carry_the_id(app_client, method, path, body, status):
    response = app_client.request(method, path, json=body, headers={"X-Request-ID": "err-1"})
    assert response.status_code == status and set(response.json()["error"]) >= {"message", "code"}
    assert response.headers["x-request-id"] == "err-1"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/audio/speech", {**SPEECH, "response_format": "wav"}),
        ("/v1/audio/speech", {**SPEECH, "stream_format": "sse"}),
        ("/chat", {"message": "Hi", "stream_text": True, "max_tokens": 8}),
    ],
)
def test_streaming_responses_carry_the_id(app_client, path, body):
    with app_client.stream("POST", path, json=body, headers={"X-Request-ID": "stream-1"}) as response:
        assert response.status_code == 200 and response.headers["x-request-id"] == "stream-1"
        assert b"".join(response.iter_bytes())


def test_the_websocket_handshake_carries_the_id(app_client):
    headers = {"X-Request-ID": "ws-1"}
    with app_client.websocket_connect("/v1/audio/speech/stream/ws?voice=bob", headers=headers) as ws:
        assert (b"x-request-id", b"ws-1") in ws.extra_headers
        ws.send_text("Hello")
        assert ws.receive_json()["type"] == "error"


def test_log_records_of_a_request_carry_its_id_and_the_access_line_its_fields(app_client, caplog):
    caplog.handler.addFilter(RequestIdFilter())  # what configure_logging puts on the server's handler
    with caplog.at_level(logging.INFO):
        app_client.get("/logs-something", headers={"X-Request-ID": "log-1"})
        app_client.get("/fails", headers={"X-Request-ID": "log-2"})
    inside = next(r for r in caplog.records if r.getMessage() == "inside the handler")
    assert inside.request_id == "log-1"
    access = next(r for r in caplog.records if r.name == "coordinator.access" and r.request_id == "log-1")
    assert (access.method, access.route, access.status) == ("GET", "/logs-something", 200)
    assert access.bytes_sent == len(b"{}") and access.duration_s >= 0
    crash = next(r for r in caplog.records if r.getMessage() == "unhandled error")
    assert crash.request_id == "log-2" and crash.exc_info is not None
    assert any(
        r.name == "coordinator.access" and r.request_id == "log-2" and r.status == 500 for r in caplog.records
    )


def test_outside_a_request_records_have_no_id(caplog):
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO):
        handler_log.info("at start-up")
    assert caplog.records[-1].request_id is None


# configure_logging replaces the root logger's handlers: tests/conftest.py's root_logging puts them back.
def test_json_logs_are_one_valid_object_per_line_with_the_id(app_client):
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    app_client.get("/logs-something", headers={"X-Request-ID": "json-1"})
    app_client.get("/fails", headers={"X-Request-ID": "json-2"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert {"message": "inside the handler", "request_id": "json-1", "level": "WARNING"}.items() <= lines[
        0
    ].items()
    access = next(line for line in lines if line["logger"] == "coordinator.access")
    assert (
        access["request_id"] == "json-1" and access["route"] == "/logs-something" and access["status"] == 200
    )
    crash = next(line for line in lines if line["message"] == "unhandled error")
    assert crash["request_id"] == "json-2" and "RuntimeError: a bug" in crash["exc_info"]


# configure_logging replaces the root logger's handlers: tests/conftest.py's root_logging puts them back.
def test_text_logs_end_the_line_with_the_id(app_client):
    stream = io.StringIO()
    configure_logging("INFO", "text", stream=stream)
    app_client.get("/logs-something", headers={"X-Request-ID": "text-1"})
    first = stream.getvalue().splitlines()[0]
    assert first.endswith("WARNING tests.handler: inside the handler [text-1]")
