"""The sweep's server settings and the per-level profiles it derives from the runtime's counters."""

from coordinator.audio.decode_scheduler import BatchTally
from coordinator.bench.capacity import bench_settings
from coordinator.bench.profile import engine_profile, snac_profile
from coordinator.engine.stats import StepTally


def test_the_bench_server_has_a_slot_per_stream_a_context_just_large_enough_and_no_key(settings):
    keyed = settings.model_copy(update={"api_key": "secret", "max_queue": 4})
    bench = bench_settings(keyed, max_streams=64, max_tokens=420)
    assert bench.max_concurrent_streams == 64 and bench.max_queue == 64
    assert bench.tts_max_tokens == 420 and bench.max_completion_tokens >= 420
    # 420 tokens + a 250-character utterance + 16 of prompt overhead, rounded up to 256.
    assert bench.n_ctx == 768
    assert bench.api_key is None


def test_the_engine_profile_is_per_batch_size_over_the_level_only():
    before = {1: StepTally(steps=10, step_s=1.0, decode_s=0.8, sample_s=0.1)}
    after = {
        1: StepTally(steps=20, step_s=2.0, decode_s=1.6, sample_s=0.2),
        4: StepTally(steps=5, step_s=0.5, decode_s=0.4, sample_s=0.05),
    }
    rows = {row["batch"]: row for row in engine_profile(before, after)}
    assert rows[1]["steps"] == 10 and abs(rows[1]["step_ms"] - 100.0) < 1e-9
    assert abs(rows[1]["llama_decode_ms"] - 80.0) < 1e-9
    assert abs(rows[1]["python_ms"] - 10.0) < 1e-9
    assert rows[4]["steps"] == 5 and abs(rows[4]["logits_and_sampling_ms"] - 10.0) < 1e-9


def test_snac_cost_is_decode_seconds_per_second_of_audio_decoded():
    # 24 frames of 2048 samples at 24 kHz = 2.048 s of audio in 1.024 s of decoding.
    rows = snac_profile({}, {8: BatchTally(calls=3, frames=24, seconds=1.024)})
    assert rows == [{"windows_per_call": 8, "calls": 3, "ms_per_call": 1024 / 3, "decode_s_per_audio_s": 0.5}]


def test_a_level_whose_streams_are_refused_is_recorded_as_failed_not_raised(monkeypatch):
    import asyncio
    import time
    from types import SimpleNamespace

    import httpx

    from coordinator.bench import capacity
    from coordinator.bench.report import holds_real_time, table

    async def refused(url, kinds, max_tokens, concurrent):
        request = httpx.Request("POST", url + "/v1/audio/speech")
        raise httpx.HTTPStatusError("503", request=request, response=httpx.Response(503, request=request))

    monkeypatch.setattr(capacity, "run", refused)
    stats = SimpleNamespace(by_batch={}, busy_s=0.0)
    runtime = SimpleNamespace(
        tts=SimpleNamespace(engine=SimpleNamespace(stats=stats)), snac=SimpleNamespace(stats=stats)
    )
    config = capacity.SweepConfig(max_streams=4, max_tokens=28, deadline=time.monotonic() + 60)
    level = asyncio.run(capacity._level("http://127.0.0.1:9", 4, config, runtime))
    assert level["failed"] == "HTTP 503 from /v1/audio/speech"
    assert not holds_real_time(level)
    assert "failed: HTTP 503" in table([level])


def test_the_memory_a_recommendation_needs_is_serves_own_plan_at_the_configured_context(
    orpheus_gguf, chat_gguf
):
    from coordinator.bench.host import memory_for
    from coordinator.runtime.memory_plan import engine_plan

    models = {"orpheus": {"path": str(orpheus_gguf)}, "llm": {"path": str(chat_gguf)}}
    need = memory_for(models, streams=32, n_ctx=4096, snac_bytes=1000)
    plans = [
        engine_plan(n, p, n_ctx_per_seq=4096, sequences=32)
        for n, p in (("o", orpheus_gguf), ("l", chat_gguf))
    ]
    assert need.kv_cache == sum(p.kv_cache for p in plans) > 0
    assert need.weights == orpheus_gguf.stat().st_size + chat_gguf.stat().st_size
    assert need.total == sum(p.total for p in plans) + 1000
    assert memory_for(models, streams=0, n_ctx=4096, snac_bytes=0).kv_cache == 0
