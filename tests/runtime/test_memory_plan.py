"""The memory plan: model shapes read from GGUF headers, KV cache and weights per engine, and a
selection over the budget refused with the numbers and the fix."""

import pytest

from coordinator.config.settings import Settings
from coordinator.engine.gguf_header import read_shape
from coordinator.engine.llama_model import LlamaModel
from coordinator.errors import ModelLoadError
from coordinator.runtime.memory_plan import (
    GB,
    KV_BYTES_PER_VALUE,
    EnginePlan,
    InsufficientMemoryError,
    MemoryPlan,
    check_plan,
    engine_plan,
)
from tests.rig.tiny_gguf import TINY

N_EMBD, N_HEADS, N_HEADS_KV, N_LAYERS = TINY.n_embd, TINY.n_heads, TINY.n_heads_kv, TINY.n_layers


def test_the_header_gives_the_shape_llama_cpp_loads(orpheus_gguf):
    shape = read_shape(orpheus_gguf)
    model = LlamaModel.load(orpheus_gguf, n_gpu_layers=0)
    try:
        assert shape.n_vocab == model.n_vocab
    finally:
        model.close()
    assert (shape.n_layers, shape.n_embd, shape.n_heads, shape.n_heads_kv) == (
        N_LAYERS,
        N_EMBD,
        N_HEADS,
        N_HEADS_KV,
    )
    assert shape.key_length == shape.value_length == N_EMBD // N_HEADS


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 5)
    with pytest.raises(ModelLoadError, match="not a readable GGUF"):
        read_shape(bad)


def test_kv_cache_is_every_slot_of_every_layer_in_f16(orpheus_gguf):
    plan = engine_plan("en", orpheus_gguf, n_ctx_per_seq=1024, sequences=4)
    per_token = N_LAYERS * N_HEADS_KV * 2 * (N_EMBD // N_HEADS) * KV_BYTES_PER_VALUE
    assert plan.kv_cache == per_token * 1024 * 4
    assert plan.weights == orpheus_gguf.stat().st_size


def _plan(budget_gb):
    engines = (
        EnginePlan("orpheus en", int(3.5 * GB), int(3.8 * GB), int(0.4 * GB)),
        EnginePlan("llm", int(2.8 * GB), int(3.4 * GB), int(0.6 * GB)),
    )
    return MemoryPlan(engines, int(0.6 * GB), int(budget_gb * GB), "free GPU memory")


def test_a_plan_within_the_budget_passes():
    check_plan(_plan(16), Settings(_env_file=None))


def test_a_plan_over_the_budget_is_refused_with_the_numbers_and_the_fix():
    with pytest.raises(InsufficientMemoryError) as caught:
        check_plan(_plan(12), Settings(_env_file=None, orpheus_models="en,fr"))
    message = str(caught.value)
    assert "15.10 GB planned" in message and "budget 12.00 GB (free GPU memory)" in message
    assert "orpheus en 7.70 GB (weights 3.50 + KV cache 3.80 + compute 0.40)" in message
    assert (
        "ORPHEUS_MODELS=en,fr" in message
        and "N_CTX (4096)" in message
        and "MAX_CONCURRENT_STREAMS (8)" in message
    )
    assert "MEMORY_BUDGET_GB" in message
