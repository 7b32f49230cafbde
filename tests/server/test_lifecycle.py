"""Liveness, readiness and the drain before shutdown, in process (the SIGTERM path end to end is
in test_shutdown.py)."""

import asyncio
import threading

import httpx
import pytest
from fastapi.testclient import TestClient

from coordinator.audio.windows import window_shapes
from coordinator.config.settings import Settings
from coordinator.errors import ShuttingDownError
from coordinator.runtime.loading import Runtime
from coordinator.server.app import create_app
from coordinator.service.lifecycle import IdleTimeout, Lifecycle
from tests.rig.clock import FakeClock
from tests.rig.waiting import eventually
from tests.server.conftest import serving

LOAD_TIMEOUT_S = 60
SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "tara", "response_format": "pcm"}
# Far more tokens than the tiny model generates before a drain with no grace aborts it.
LONG_SPEECH = {**SPEECH, "max_tokens": 900}


def _settings(model_env, **overrides) -> Settings:
    return Settings(_env_file=None, **{k.lower(): v for k, v in model_env.items()}, **overrides)


def test_readiness_waits_for_the_warm_up_while_liveness_answers_throughout(model_env, monkeypatch):
    warming = threading.Event()
    release = threading.Event()
    warm_up = Runtime.warm_up

    def gated_warm_up(runtime: Runtime) -> None:
        warming.set()
        assert release.wait(LOAD_TIMEOUT_S)
        warm_up(runtime)

    monkeypatch.setattr(Runtime, "warm_up", gated_warm_up)
    with TestClient(create_app(_settings(model_env))) as client:
        assert warming.wait(LOAD_TIMEOUT_S), "the models never finished loading"
        # Loaded but not warm: not ready yet.
        for path in ("/health", "/readyz"):
            response = client.get(path)
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "model_loading"
            assert response.headers["retry-after"]
        assert client.get("/livez").json() == {"status": "alive"}
        release.set()
        response = eventually(
            lambda: (ready := client.get("/readyz")).status_code == 200 and ready,
            "ready after the warm-up",
        )
        assert response.json() == {"status": "ready"}
        assert client.get("/health").status_code == 200
        assert client.post("/v1/audio/speech", json=SPEECH).status_code == 200


def test_warm_up_decodes_every_window_shape_and_runs_both_engines(runtime):
    windows, tts_reasons, llm_reasons = (
        runtime.snac.stats.windows,
        sum(runtime.tts.engine.stats.finish_reasons.values()),
        sum(runtime.llm.engine.stats.finish_reasons.values()),
    )
    runtime.warm_up()
    assert runtime.snac.stats.windows - windows == len(window_shapes(lookahead=runtime.tts.lookahead_frames))
    assert sum(runtime.tts.engine.stats.finish_reasons.values()) == tts_reasons + 1
    assert sum(runtime.llm.engine.stats.finish_reasons.values()) == llm_reasons + 1


def test_probes_need_no_key_when_keys_are_required(model_env, runtime):
    with TestClient(create_app(_settings(model_env, api_key="s3cret"), runtime=runtime)) as client:
        assert client.get("/livez").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/v1/models").status_code == 401


def test_draining_refuses_new_requests_with_503_but_stays_alive(settings, runtime):
    app = create_app(settings, runtime=runtime)
    with TestClient(app) as client:
        app.state.lifecycle.start_draining()
        for method, path, body in (
            ("POST", "/v1/audio/speech", SPEECH),
            ("GET", "/v1/models", None),
            ("GET", "/readyz", None),
            ("GET", "/health", None),
        ):
            response = client.request(method, path, json=body)
            assert response.status_code == 503, path
            assert response.json()["error"]["code"] == "shutting_down"
            assert response.headers["retry-after"] and response.headers["connection"] == "close"
            assert response.headers["x-request-id"]  # the observer, outside the gate, saw it
        assert client.get("/livez").status_code == 200
        metrics = client.get("/metrics").text
        assert 'status="503"' in metrics


def test_a_websocket_opened_while_draining_is_closed_as_try_again_later(settings, runtime):
    app = create_app(settings, runtime=runtime)
    with TestClient(app) as client:
        app.state.lifecycle.start_draining()
        with client.websocket_connect("/v1/audio/speech/stream/ws?voice=tara") as ws:
            assert ws.receive_json()["error"]["code"] == "shutting_down"
            assert ws.receive()["code"] == 1013


def test_a_websocket_still_waiting_for_its_text_is_closed_when_the_drain_starts(settings, runtime):
    # It holds nothing worth waiting for, and would hold the drain for the whole grace period.
    app = create_app(settings, runtime=runtime)
    with TestClient(app) as client, client.websocket_connect("/v1/audio/speech/stream/ws") as ws:
        _wait_for(lambda: app.state.lifecycle.in_flight == 1)
        client.portal.call(app.state.lifecycle.start_draining)  # on the app's event loop
        assert ws.receive_json()["error"]["code"] == "shutting_down"
        assert ws.receive()["code"] == 1013
    assert app.state.lifecycle.in_flight == 0


def _wait_for(condition) -> None:
    eventually(condition, "the requests in flight were counted")


def test_a_stream_in_flight_finishes_while_new_requests_are_refused(settings, runtime):
    app = create_app(settings, runtime=runtime)
    lifecycle: Lifecycle = app.state.lifecycle
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        with client.stream("POST", "/v1/audio/speech", json=SPEECH) as response:
            chunks = response.iter_bytes()
            first = next(chunks)
            assert response.status_code == 200 and lifecycle.in_flight == 1
            lifecycle.start_draining()
            refused = httpx.post(url + "/v1/audio/speech", json=SPEECH, timeout=30)
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "shutting_down"
            audio = first + b"".join(chunks)
        _wait_for(lambda: lifecycle.in_flight == 0)
    assert len(audio) > 0 and len(audio) % 2 == 0  # whole PCM16 samples: the stream ran to its end


def test_aborting_cuts_a_stream_promptly_and_the_engine_serves_on(settings, runtime, monkeypatch):
    # A long utterance of a short text: past its length cap, which would end it before the abort.
    monkeypatch.setattr(runtime.tts, "length_cap", False)
    app = create_app(settings, runtime=runtime)
    lifecycle: Lifecycle = app.state.lifecycle
    aborted_before = runtime.tts.engine.stats.finish_reasons.get("error", 0)
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        with client.stream("POST", "/v1/audio/speech", json=LONG_SPEECH) as response:
            chunks = response.iter_bytes()
            next(chunks)
            lifecycle.on_abort()  # what a drain past SHUTDOWN_GRACE_S calls: Runtime.abort
            for _ in chunks:
                pass
        _wait_for(lambda: lifecycle.in_flight == 0)
        assert runtime.tts.engine.stats.finish_reasons.get("error", 0) == aborted_before + 1
        # An abort ends the streams, not the engine.
        assert client.post("/v1/audio/speech", json=SPEECH).status_code == 200


@pytest.mark.parametrize("in_flight", [0, 2])
def test_wait_idle_reports_whether_the_requests_finished(in_flight):
    async def scenario() -> bool:
        clock = FakeClock()
        lifecycle = Lifecycle(clock=clock)
        lifecycle.in_flight = in_flight
        waiting = asyncio.create_task(lifecycle.wait_idle(0.1))
        if in_flight:
            await clock.until_sleeping(timed=True)
            clock.advance(0.1)
        return await waiting

    assert asyncio.run(scenario()) is (in_flight == 0)


def test_wait_idle_returns_as_the_last_request_finishes_not_at_its_timeout():
    async def scenario() -> bool:
        clock = FakeClock()
        lifecycle = Lifecycle(clock=clock)
        lifecycle.in_flight = 2
        waiting = asyncio.create_task(lifecycle.wait_idle(60))
        await clock.until_sleeping(timed=True)
        lifecycle.in_flight -= 1
        await clock.until_sleeping(timed=True)  # still waiting (and the loop turned meanwhile)
        assert not waiting.done()
        lifecycle.in_flight -= 1
        return await waiting  # the clock never moved: only the count ended the wait

    assert asyncio.run(scenario()) is True


def test_a_sessions_wait_ends_with_what_arrives_the_drain_or_the_idle_timeout():
    """Lifecycle.arrival: every door's idle wait (both WebSockets), on the injected clock."""

    async def scenario() -> None:
        clock = FakeClock()
        lifecycle = Lifecycle(clock=clock)
        arrived: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        waiting = asyncio.create_task(lifecycle.arrival(arrived, 30))
        await clock.until_sleeping(timed=True)
        arrived.set_result("hello")
        assert await waiting == "hello"

        never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        waiting = asyncio.create_task(lifecycle.arrival(never, 30))
        await clock.until_sleeping(timed=True)
        clock.advance(29.9)
        await clock.until_sleeping(timed=True)  # not yet: the timeout is 30 s
        assert not waiting.done()
        clock.advance(0.1)
        with pytest.raises(IdleTimeout, match="nothing arrived for 30 s"):
            await waiting
        assert never.cancelled()  # nobody will read it: the wait cancelled it

        waiting = asyncio.create_task(lifecycle.arrival(asyncio.Event().wait(), 30))
        await clock.until_sleeping(timed=True)
        lifecycle.start_draining()
        with pytest.raises(ShuttingDownError):
            await waiting

    asyncio.run(scenario())
