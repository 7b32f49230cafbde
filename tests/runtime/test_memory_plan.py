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
    REFERENCE_FRAMING_TOKENS,
    EnginePlan,
    InsufficientMemoryError,
    MemoryPlan,
    check_memory_plan,
    check_plan,
    context_per_sequence,
    engine_plan,
    reference_tokens,
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


def test_a_cloning_model_gets_room_for_the_longest_reference_before_the_text():
    settings = Settings(_env_file=None, n_ctx=4096, voice_reference_max_s=30.0, voice_max_samples=5)
    # 30 s of SNAC 24 kHz: 352 frames of 2048 samples, 7 tokens each (about 82 a second), then the
    # transcripts (8 tokens a second at most) and the framing of 5 (transcript, audio) pairs.
    assert reference_tokens(settings) == 352 * 7 + 240 + 5 * REFERENCE_FRAMING_TOKENS
    assert context_per_sequence(settings, clones=False) == 4096
    assert context_per_sequence(settings, clones=True) == 4096 + reference_tokens(settings)
    longer = settings.model_copy(update={"voice_reference_max_s": 60.0})
    assert reference_tokens(longer) > reference_tokens(settings)


def test_the_plan_counts_the_cloning_models_larger_kv_cache(orpheus_gguf, chat_gguf, snac_dir):
    settings = Settings(
        _env_file=None, memory_budget_gb=1000, n_ctx=1024, max_concurrent_streams=2, tts_max_tokens=256
    )
    plan = check_memory_plan(
        settings, [("en", orpheus_gguf, False), ("pretrained", orpheus_gguf, True)], chat_gguf, snac_dir
    )
    assert plan is not None
    en, pretrained, llm = plan.engines
    assert (en.name, pretrained.name, llm.name) == ("orpheus en", "orpheus pretrained", "llm")
    per_token = N_LAYERS * N_HEADS_KV * 2 * (N_EMBD // N_HEADS) * KV_BYTES_PER_VALUE
    assert en.kv_cache == per_token * 1024 * 2
    assert pretrained.kv_cache == per_token * context_per_sequence(settings, clones=True) * 2
    assert pretrained.weights == en.weights


def test_the_cloning_models_engine_is_sized_for_its_references(orpheus_gguf, snac_dir):
    """The tiny Orpheus GGUF stands for the pretrained model: loaded as the catalog's cloning
    model, its engine has the larger context and its pipeline knows it clones."""
    from pathlib import Path

    from coordinator.audio.snac_codec import load_snac, resolve_device
    from coordinator.config.catalog import load_catalog
    from coordinator.config.selection import OrpheusChoice
    from coordinator.runtime.loading import load_orpheus

    catalog = load_catalog(Path(__file__).resolve().parents[2] / "models.yaml")
    spec = catalog.orpheus_pretrained["pretrained"]
    settings = Settings(_env_file=None, n_ctx=1024, max_concurrent_streams=1, n_threads=1, tts_max_tokens=256)
    choice = OrpheusChoice("pretrained", spec, "custom", orpheus_gguf, "ORPHEUS_MODEL_PATHS", local=True)
    tts = load_orpheus(choice, settings, load_snac(snac_dir, resolve_device("cpu")))
    try:
        assert tts.engine.n_ctx_per_seq >= context_per_sequence(settings, clones=True)
        assert tts.clones and tts.voices == []
    finally:
        tts.close()
