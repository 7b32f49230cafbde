"""GET /metrics: what a Prometheus scrape sees after real requests on the tiny models."""

from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from coordinator.audio.format import SAMPLE_RATE, SAMPLES_PER_FRAME
from coordinator.config.settings import Settings
from coordinator.server.app import create_app
from coordinator.service.metrics import GpuMemoryCollector
from tests.rig.waiting import eventually

FRAMES = 10
SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "tara", "max_tokens": 7 * FRAMES, "seed": 1}
TTS_ID = "orpheus-3b-ft"


def scrape(client) -> dict[tuple[str, frozenset], float]:
    """Every sample of the exposition, keyed by name and labels (parsing it is part of the test)."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_a_speech_request_is_counted_by_route_and_status_and_its_audio_is_measured(client):
    before = scrape(client)
    assert client.post("/v1/audio/speech", json={**SPEECH, "response_format": "wav"}).status_code == 200
    after = scrape(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"method": "POST", "route": "/v1/audio/speech"}
    assert grew("orpheus_http_requests_total", **route, status="200") == 1
    assert grew("orpheus_http_request_duration_seconds_count", **route) == 1
    assert grew("orpheus_http_request_duration_seconds_sum", **route) > 0
    assert grew("orpheus_speech_time_to_first_audio_seconds_count", endpoint="speech") == 1
    # The random model never ends speech: the utterance runs to max_tokens, so it completed.
    assert grew("orpheus_speech_utterances_total", endpoint="speech", finish_reason="length") == 1
    assert grew("orpheus_speech_real_time_factor_count", endpoint="speech") == 1
    assert grew("orpheus_speech_real_time_factor_sum", endpoint="speech") > 0
    assert grew("orpheus_speech_audio_seconds_total", endpoint="speech") == pytest.approx(
        FRAMES * SAMPLES_PER_FRAME / SAMPLE_RATE
    )
    assert grew("orpheus_snac_frames_decoded_total") == FRAMES
    assert grew("orpheus_snac_windows_decoded_total") >= 2  # windows of 1, 2, 4 ... frames
    assert grew("orpheus_snac_decode_calls_total") >= 1 and grew("orpheus_snac_decode_seconds_total") > 0
    assert grew("orpheus_generated_tokens_total", model=TTS_ID) >= 7 * FRAMES


def test_a_chat_completion_counts_its_tokens_for_its_model(client, runtime):
    chat_id = runtime.llm.model_id
    before = scrape(client)
    body = {"model": chat_id, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, "seed": 0}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    after = scrape(client)
    route = {"method": "POST", "route": "/v1/chat/completions", "status": "200"}
    assert (
        value(after, "orpheus_http_requests_total", **route)
        - value(before, "orpheus_http_requests_total", **route)
        == 1
    )
    completion = response.json()["usage"]["completion_tokens"]
    generated = value(after, "orpheus_generated_tokens_total", model=chat_id) - value(
        before, "orpheus_generated_tokens_total", model=chat_id
    )
    assert completion <= generated <= completion + 1  # plus the end-of-turn token, if it came
    assert value(after, "orpheus_prompt_tokens_total", model=chat_id) > 0


def test_a_client_that_walks_away_leaves_a_cancelled_utterance_and_no_real_time_factor(client):
    cancelled = {"endpoint": "speech", "finish_reason": "cancelled"}
    before = scrape(client)
    body = {**SPEECH, "response_format": "pcm", "max_tokens": 700}
    with client.stream("POST", "/v1/audio/speech", json=body) as response:
        next(response.iter_bytes())
    recorded = value(before, "orpheus_speech_utterances_total", **cancelled)

    def scrape_once_recorded():
        samples = scrape(client)
        return samples if value(samples, "orpheus_speech_utterances_total", **cancelled) > recorded else None

    after = eventually(scrape_once_recorded, "the abandoned utterance was recorded")
    rtf = "orpheus_speech_real_time_factor_count"
    assert value(after, rtf, endpoint="speech") == value(before, rtf, endpoint="speech")
    assert value(after, "orpheus_snac_frames_decoded_total") > value(
        before, "orpheus_snac_frames_decoded_total"
    )


def test_errors_are_counted_by_status_and_unknown_paths_share_one_label(client):
    before = scrape(client)
    assert client.post("/v1/audio/speech", json={**SPEECH, "voice": "bob"}).status_code == 400
    assert client.get("/v1/nothing/1").status_code == 404
    assert client.get("/v1/nothing/2").status_code == 404
    assert client.get("/v1/audio/speech").status_code == 405
    after = scrape(client)

    def grew(**labels):
        name = "orpheus_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew(method="POST", route="/v1/audio/speech", status="400") == 1
    assert grew(method="GET", route="unmatched", status="404") == 2
    assert grew(method="GET", route="/v1/audio/speech", status="405") == 1
    assert not any("/v1/nothing" in str(labels) for _, labels in after)


def test_every_speech_endpoint_records_its_time_to_first_audio(client):
    before = scrape(client)
    assert client.get("/tts", params={"prompt": "Hello world", "max_tokens": 35}).status_code == 200
    assert client.post("/chat", json={"message": "Hi", "max_tokens": 16, "seed": 0}).status_code == 200
    with client.websocket_connect("/v1/audio/speech/stream/ws") as ws:
        ws.send_text("Hello there.")
        while ws.receive().get("text") is None:  # PCM chunks, then the JSON end event
            pass
    after = scrape(client)
    for endpoint in ("tts", "chat", "ws"):
        name = "orpheus_speech_time_to_first_audio_seconds_count"
        assert value(after, name, endpoint=endpoint) - value(before, name, endpoint=endpoint) == 1, endpoint
        assert value(after, "orpheus_speech_utterances_total", endpoint=endpoint, finish_reason="length") >= 1
    ws_route = {"method": "WS", "route": "/v1/audio/speech/stream/ws", "status": "101"}
    assert value(after, "orpheus_http_requests_total", **ws_route) >= 1


def test_engine_gauges_and_readiness_are_exposed_per_model(client, runtime):
    samples = scrape(client)
    for model in (TTS_ID, runtime.llm.model_id):
        assert value(samples, "orpheus_active_sequences", model=model) == 0  # nothing runs between tests
        assert value(samples, "orpheus_queued_requests", model=model) == 0
        assert value(samples, "orpheus_max_sequences", model=model) == runtime.settings.max_concurrent_streams
        assert ("orpheus_engine_steps_total", frozenset({("model", model)})) in samples
    assert value(samples, "orpheus_ready") == 1
    assert value(samples, "orpheus_model_info", model=TTS_ID, role="tts", quantization="custom") == 1


def test_before_the_models_load_metrics_say_not_ready(model_env, tmp_path):
    env = {k.lower(): v for k, v in model_env.items()} | {"orpheus_model_path": str(tmp_path / "gone.gguf")}
    with TestClient(create_app(Settings(_env_file=None, **env))) as client:
        eventually(lambda: "failed" in client.get("/health").json()["error"]["message"], "the load failed")
        samples = scrape(client)
    assert value(samples, "orpheus_ready") == 0
    assert not any(name.startswith("orpheus_active_sequences") for name, _ in samples)
    assert value(samples, "orpheus_http_requests_total", method="GET", route="/health", status="503") >= 1


def test_a_scraper_asking_for_openmetrics_gets_it(client):
    response = client.get("/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_gpu_memory_is_reported_per_device_and_device_totals_only_where_torch_holds_memory():
    # No GPU here: a stand-in with torch.cuda's interface; device 1 was never used by torch.
    reserved = {0: 3 << 20, 1: 0}
    cuda = SimpleNamespace(
        device_count=lambda: 2,
        memory_allocated=lambda i: reserved[i] // 2,
        memory_reserved=lambda i: reserved[i],
        mem_get_info=lambda i: (5 << 30, 24 << 30) if reserved[i] else pytest.fail("would create a context"),
    )
    registry = CollectorRegistry()
    registry.register(GpuMemoryCollector(cuda))
    assert registry.get_sample_value("orpheus_gpu_memory_reserved_bytes", {"device": "0"}) == 3 << 20
    assert registry.get_sample_value("orpheus_gpu_memory_allocated_bytes", {"device": "1"}) == 0
    assert registry.get_sample_value("orpheus_gpu_memory_total_bytes", {"device": "0"}) == 24 << 30
    assert registry.get_sample_value("orpheus_gpu_memory_free_bytes", {"device": "1"}) is None
