"""GET /v1/status: readiness, the loaded models and their engines' load, for the browser page."""

from dataclasses import replace

from fastapi.testclient import TestClient

from coordinator.server.app import create_app
from tests.rig.waiting import eventually


def test_status_when_ready_lists_the_models_where_they_run_and_the_limits(client, runtime, settings):
    status = client.get("/v1/status").json()
    assert status["status"] == "ready" and status["message"] is None
    roles = {model["role"]: model for model in status["models"]}
    assert set(roles) == {"tts", "llm", "codec", "stt"}  # the test runtime has a Whisper
    assert roles["stt"]["capacity"] == runtime.stt.slots
    assert roles["tts"]["id"] == runtime.orpheus_text.model_id
    assert roles["llm"]["quantization"] == runtime.llm.quant
    # The test build of llama.cpp has no GPU offload, and SNAC runs on the CPU here.
    assert {model["device"] for model in status["models"]} == {"cpu"}
    assert roles["tts"]["capacity"] == settings.max_concurrent_streams
    assert status["limits"]["max_input_chars"] == settings.max_input_chars
    assert status["speech_defaults"]["voice"] == "tara"
    assert status["speech_defaults"]["max_tokens"] == settings.tts_max_tokens


def test_status_counts_the_streams_being_generated_and_waiting(client, tts):
    engine = tts.engine
    long = replace(tts.default_params, max_tokens=980)
    held = [engine.submit(tts.request("Hi.", "tara", long)) for _ in range(engine.max_sequences + 1)]
    try:

        def counted() -> bool:
            model = next(m for m in client.get("/v1/status").json()["models"] if m["role"] == "tts")
            return (model["active"], model["queued"]) == (engine.max_sequences, 1)

        eventually(counted, "/v1/status counted every slot busy and one waiting")
    finally:
        for stream in held:
            stream.cancel()
    wait_until_free_of(client)


def wait_until_free_of(client):
    eventually(
        lambda: not any(m["active"] or m["queued"] for m in client.get("/v1/status").json()["models"]),
        "the cancelled streams gave back their slots",
    )


def test_status_while_the_models_load_says_loading_with_the_reason(settings, runtime):
    app = create_app(settings, runtime=runtime)
    with TestClient(app) as client:
        app.state.runtime = None  # the state the lifespan is in until the models are warm
        status = client.get("/v1/status")
        assert status.status_code == 200  # the page reads it while /health is still 503
        body = status.json()
        assert body["status"] == "loading" and "loading" in body["message"]
        assert body["models"] == [] and body["speech_defaults"] is None
        app.state.not_ready_reason = "model loading failed: see the server log"
        assert client.get("/v1/status").json() == {
            **body,
            "status": "failed",
            "message": app.state.not_ready_reason,
        }
        app.state.runtime = runtime


def test_status_while_draining_says_shutting_down(settings, runtime):
    app = create_app(settings, runtime=runtime)
    with TestClient(app) as client:
        app.state.lifecycle.draining = True
        # The drain gate answers every new request 503 first, the status route included.
        assert client.get("/v1/status").status_code == 503
