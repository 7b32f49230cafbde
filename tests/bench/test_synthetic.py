"""Random-weight GGUFs of any shape and quantization load and generate in llama.cpp."""

import math
import time

import gguf
import numpy as np
import pytest

from coordinator.bench.shapes import (
    GEMMA2_2B,
    GEMMA_VOCAB,
    ORPHEUS_3B,
    ORPHEUS_VOCAB,
    TINY_GEMMA2,
    TINY_QUANTIZABLE,
)
from coordinator.bench.synthetic import BudgetExceededError, build_chat_gguf, build_orpheus_gguf
from coordinator.bench.vocab import gemma_vocab, orpheus_vocab
from coordinator.bench.weights import _tensor_plan, llama3_rope_factors
from coordinator.engine.batch_engine import BatchEngine, GenerationRequest
from coordinator.engine.llama_model import LlamaModel
from coordinator.engine.sampling import SamplingParams
from coordinator.orpheus.layout import N_CUSTOM_TOKENS, custom_token_text

# llama_ftype (llama.h) as general.file_type stores it.
FILE_TYPES = {"Q8_0": "7", "Q4_K_M": "15"}


def test_the_real_orpheus_vocabulary_has_its_tokens_at_the_released_ids():
    spec = orpheus_vocab(real_ids=True)
    tokens = spec.vocab.tokens
    assert len(tokens) == ORPHEUS_VOCAB == 156_940
    assert tokens.index(custom_token_text(0)) == 128_256
    assert tokens.index(custom_token_text(N_CUSTOM_TOKENS - 1)) == 128_256 + N_CUSTOM_TOKENS - 1
    assert (spec.ids["bos"], spec.ids["eos"], spec.ids["eot"]) == (128_000, 128_001, 128_009)
    assert len(set(tokens)) == len(tokens)


def test_the_real_gemma_vocabulary_has_its_specials_at_the_released_ids_and_speakable_words():
    spec = gemma_vocab(real_ids=True)
    tokens = spec.vocab.tokens
    assert len(tokens) == GEMMA_VOCAB
    assert [tokens[i] for i in (0, 1, 2, 3, 106, 107)] == [
        "<pad>",
        "<eos>",
        "<bos>",
        "<unk>",
        "<start_of_turn>",
        "<end_of_turn>",
    ]
    assert tokens[-1].startswith("▁w") and any(t.endswith(".") for t in tokens[-16:])


@pytest.mark.parametrize(("shape", "n_vocab"), [(ORPHEUS_3B, ORPHEUS_VOCAB), (GEMMA2_2B, GEMMA_VOCAB)])
def test_the_tensor_plan_of_a_released_shape_holds_exactly_its_parameters(shape, n_vocab):
    plan = _tensor_plan(shape, n_vocab)
    weights = sum(math.prod(dims) for name, dims, kind in plan if kind != "rope")
    assert weights == shape.parameters(n_vocab)
    names = {name for name, _, _ in plan}
    assert ("output.weight" in names) is (not shape.tied_output)
    assert ("rope_freqs.weight" in names) is (shape.llama3_rope is not None)
    assert ("blk.0.post_ffw_norm.weight" in names) is (shape.arch == "gemma2")


def test_llama3_rope_factors_leave_high_frequencies_and_stretch_low_ones_by_the_factor():
    factors = llama3_rope_factors(ORPHEUS_3B)
    assert factors.shape == (64,)
    assert factors[0] == 1.0 and factors[-1] == 32.0
    assert np.all(np.diff(factors) >= 0)


def _generate(path, n_tokens=8):
    model = LlamaModel.load(path, n_gpu_layers=0, cpu_weight_repack=False)
    try:
        engine = BatchEngine(model, n_ctx_per_seq=256, max_sequences=1, n_threads=2)
        try:
            request = GenerationRequest(
                prompt=model.tokenize("hello there", add_special=True),
                params=SamplingParams(max_tokens=n_tokens, seed=0),
            )
            stream = engine.submit(request)
            tokens = []
            while True:
                batch = stream.next_batch(timeout=60)
                tokens.extend(batch.tokens)
                if batch.finished:
                    return model.metadata("general.file_type"), model.metadata("general.architecture"), tokens
        finally:
            engine.close()
    finally:
        model.close()


@pytest.mark.parametrize("quant", ["Q8_0", "Q4_K_M"])
@pytest.mark.parametrize(
    ("build", "shape", "arch"),
    [(build_orpheus_gguf, TINY_QUANTIZABLE, "llama"), (build_chat_gguf, TINY_GEMMA2, "gemma2")],
)
def test_a_quantized_synthetic_model_loads_and_generates(tmp_path, quant, build, shape, arch):
    path = build(tmp_path / "model.gguf", shape=shape, quant=quant)
    file_type, loaded_arch, tokens = _generate(path)
    assert (file_type, loaded_arch) == (FILE_TYPES[quant], arch)
    assert tokens
    types = {t.tensor_type.name for t in gguf.GGUFReader(path).tensors}
    # Q4_K_M is llama.cpp's own mix: Q4_K for most matrices, Q6_K where it keeps more bits.
    expected = {"Q8_0"} if quant == "Q8_0" else {"Q4_K", "Q6_K"}
    assert expected <= types and "F32" in types  # norms stay F32
    assert list(tmp_path.iterdir()) == [path]  # no .partial, no Q8_0 source left behind


def test_q8_0_weights_have_the_spread_the_f32_test_models_draw(tmp_path):
    path = build_orpheus_gguf(tmp_path / "q8.gguf", shape=TINY_QUANTIZABLE, quant="Q8_0")
    tensors = {t.name: t for t in gguf.GGUFReader(path).tensors}
    embedding = gguf.quants.dequantize(tensors["token_embd.weight"].data, gguf.GGMLQuantizationType.Q8_0)
    attn_q = gguf.quants.dequantize(tensors["blk.0.attn_q.weight"].data, gguf.GGMLQuantizationType.Q8_0)
    assert embedding.std() == pytest.approx(1.0, rel=0.02)
    assert attn_q.std() == pytest.approx(0.5 / math.sqrt(TINY_QUANTIZABLE.n_embd), rel=0.05)


def test_a_deadline_that_has_passed_stops_the_write_and_leaves_no_file(tmp_path):
    with pytest.raises(BudgetExceededError, match="raise --max-seconds"):
        build_orpheus_gguf(
            tmp_path / "late.gguf", shape=TINY_QUANTIZABLE, quant="Q8_0", deadline=time.monotonic()
        )
    assert list(tmp_path.iterdir()) == []


def test_q4_k_m_is_quantized_from_the_q8_0_already_written_and_models_are_reused(tmp_path, monkeypatch):
    from coordinator.bench import models

    _, first = models.synthetic_models(tmp_path, quant="Q8_0", tiny=True)

    def no_new_writes(*args, **kwargs):
        raise AssertionError("a model was written again")

    monkeypatch.setattr(models, "build_orpheus_gguf", no_new_writes)
    monkeypatch.setattr(models, "build_chat_gguf", no_new_writes)
    overrides, second = models.synthetic_models(tmp_path, quant="Q4_K_M", tiny=True)
    assert second["orpheus"]["quant"] == "Q4_K_M" and second["orpheus"]["written_in_s"] is not None
    assert "written_in_s" not in second["llm"]  # reused
    assert gguf.GGUFReader(overrides["orpheus_model_path"]).fields["general.file_type"].parts[-1][0] == 15
    assert first["orpheus"]["path"] != second["orpheus"]["path"]


def test_a_random_gemma_with_words_says_varied_speakable_words_not_one_token_over_and_over(tmp_path):
    path = build_chat_gguf(tmp_path / "chat.gguf", shape=TINY_GEMMA2, quant="Q8_0", words_to=4096)
    _, _, tokens = _generate(path, n_tokens=40)
    n_pieces = len(gemma_vocab(real_ids=False).vocab.tokens)  # specials, bytes and letters come first
    assert len(set(tokens)) > 20
    assert sum(token >= n_pieces for token in tokens) > len(tokens) / 2
