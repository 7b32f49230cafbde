"""The app factory and lifespan: readiness, model loading in the background, route errors."""

from fastapi.testclient import TestClient

from coordinator.config.settings import Settings
from coordinator.server.app import create_app
from tests.rig.waiting import eventually


def test_health_reports_the_loaded_model_and_device(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["models"]["tts"]["id"] == "orpheus-3b-ft"
    assert body["device"]["snac"] == "cpu"


def test_models_load_in_the_background_and_health_turns_ready(model_env):
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in model_env.items()})
    with TestClient(create_app(settings)) as client:

        def ready() -> bool:
            response = client.get("/health")
            if response.status_code == 200:
                return True
            assert response.json()["error"]["code"] == "model_loading"
            assert response.headers["retry-after"] == "5"
            return False

        eventually(ready, "the models loaded and /health said ok")
        assert client.get("/v1/models").status_code == 200


def test_a_failed_load_answers_503_with_the_reason_and_tells_serve_to_exit(model_env, tmp_path):
    env = {k.lower(): v for k, v in model_env.items()} | {"orpheus_model_path": str(tmp_path / "gone.gguf")}
    app = create_app(Settings(_env_file=None, **env))
    with TestClient(app) as client:
        message = eventually(lambda: _load_failure(client), "/health reported the failed load")
        assert "gone.gguf" in message and "download_models.py" in message
        response = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "hi", "voice": "tara"})
        assert response.status_code == 503 and "gone.gguf" in response.json()["error"]["message"]
        # `serve` polls this and exits non-zero (tests/server/test_shutdown.py runs that end to end).
        assert app.state.lifecycle.failure == message


def test_unknown_routes_and_methods_answer_in_openai_shape(client):
    response = client.get("/v1/nothing")
    assert response.status_code == 404 and set(response.json()["error"]) == {
        "message",
        "type",
        "param",
        "code",
    }
    response = client.get("/v1/audio/speech")
    assert response.status_code == 405 and "not allowed" in response.json()["error"]["message"]
    assert response.headers["Allow"] == "POST"  # RFC 9110: a 405 names the methods that work


def test_auto_download_with_every_model_present_fetches_nothing_and_serves(model_env):
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in model_env.items()}, auto_download=True)
    with TestClient(create_app(settings)) as client:

        def ready() -> bool:
            response = client.get("/health")
            if response.status_code == 200:
                return True
            assert "failed" not in response.json()["error"]["message"]
            return False

        eventually(ready, "the server served with every model already present")


def test_queue_errors_map_to_429_and_503_with_retry_after():
    from coordinator.errors import QueueFullError, QueueTimeoutError
    from coordinator.server.errors import error_response, status_of

    assert status_of(QueueFullError("busy")) == 429 and status_of(QueueTimeoutError("slow")) == 503
    response = error_response("slow", 503, code="queue_timeout")
    assert response.headers["retry-after"] == "5"


def test_a_trailing_slash_is_served_as_the_path_without_it_never_redirected(client):
    # LibreChat's newest version follows no redirects: a 307 would be a failed request.
    body = {
        "model": "tts-1",
        "input": "Hi.",
        "voice": "tara",
        "response_format": "pcm",
        "max_tokens": 14,
        "seed": 3,
    }
    plain = client.post("/v1/audio/speech", json=body)
    slashed = client.post("/v1/audio/speech/", json=body, follow_redirects=False)
    assert slashed.status_code == 200 and len(slashed.content) == len(plain.content)
    for path in ("/v1/models/", "/v1/audio/voices/", "/health/", "/v1/audio/models//"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 200, path
    response = client.get("/v1/audio/speech/", follow_redirects=False)
    assert response.status_code == 405  # what the path without the slash answers to a GET
    response = client.get("/v1/nothing/", follow_redirects=False)
    assert response.status_code == 404 and response.json()["error"]["message"].startswith("no route")


def test_a_slashed_request_is_counted_under_its_route(client):
    client.get("/v1/models/")
    metrics = client.get("/metrics").text
    assert 'orpheus_http_requests_total{method="GET",route="/v1/models",status="200"}' in metrics


def _load_failure(client: TestClient) -> str | None:
    """/health's message once it says the load failed."""
    message = client.get("/health").json()["error"]["message"]
    return message if "failed" in message else None
