"""The engine's prefix cache: a slot keeps the KV cells of a request's first ``keep_prefix`` prompt
tokens, and a later prompt starting with them skips their prefill. Greedy decoding (temperature 0)
of the same prompt with and without the kept cells must give the same tokens: that proves the
reused cells are the ones a fresh prefill would have written."""

import numpy as np
import pytest

from coordinator.engine.batch_engine import BatchEngine, GenerationRequest
from coordinator.engine.llama_model import LlamaModel
from coordinator.engine.prefix_cache import best_slot, shared_prefix
from coordinator.engine.sampling import SamplingParams
from coordinator.errors import GenerationError, InvalidInputError

N_CTX = 256
GREEDY = SamplingParams(max_tokens=12, temperature=0.0, seed=0)
SMALL_BATCH = 16  # prompt tokens per step: long prompts take several steps to prefill


@pytest.fixture(scope="module")
def chat_model(chat_gguf):
    with LlamaModel.load(chat_gguf, n_gpu_layers=0) as model:
        yield model


def _engine(model, *, slots=1, n_batch=512):
    return BatchEngine(
        model, n_ctx_per_seq=N_CTX, max_sequences=slots, n_threads=2, n_batch=n_batch, name="t"
    )


@pytest.fixture
def one_slot(chat_model):
    engine = _engine(chat_model)
    yield engine
    engine.close()


@pytest.fixture
def prefix(chat_model):
    ids = chat_model.tokenize("the reference recording says this and a good deal more " * 4, add_special=True)
    assert len(ids) > 2 * SMALL_BATCH
    return ids


def _collect(stream):
    tokens = []
    while True:
        batch = stream.next_batch(timeout=60)
        tokens += batch.tokens
        if batch.finished:
            return tokens


def _run(engine, prompt, keep=0):
    """Generate greedily; return the tokens and how many prompt tokens were prefilled."""
    before = engine.stats.prompt_tokens
    tokens = _collect(engine.submit(GenerationRequest(prompt=prompt, params=GREEDY, keep_prefix=keep)))
    return tokens, engine.stats.prompt_tokens - before


def test_a_second_request_with_the_same_prefix_prefills_only_the_rest_and_is_exact(
    one_slot, chat_model, prefix
):
    first = prefix + chat_model.tokenize(" first target")
    second = prefix + chat_model.tokenize(" another target text")
    expected, prefilled = _run(one_slot, second)  # no cache yet: every token prefilled
    assert prefilled == len(second) and one_slot.kv_cells_in_use() == {}

    _run(one_slot, first, keep=len(prefix))
    assert one_slot.kv_cells_in_use() == {0: len(prefix)}
    tokens, prefilled = _run(one_slot, second, keep=len(prefix))
    assert prefilled == len(second) - len(prefix)
    assert one_slot.stats.prompt_tokens_reused == len(prefix)
    assert tokens == expected


def test_the_same_prompt_again_decodes_its_last_token_again_and_is_exact(one_slot, prefix):
    expected, _ = _run(one_slot, prefix)
    _run(one_slot, prefix, keep=len(prefix))
    tokens, prefilled = _run(one_slot, prefix, keep=len(prefix))
    assert prefilled == 1 and tokens == expected


def test_a_different_prompt_in_a_slot_with_stale_cells_is_exact(one_slot, chat_model, prefix):
    other = chat_model.tokenize("something else entirely, nothing alike", add_special=True)
    half = prefix[: len(prefix) // 2] + chat_model.tokenize(" diverging here")
    expected_other, _ = _run(one_slot, other)
    expected_half, _ = _run(one_slot, half)

    _run(one_slot, prefix + chat_model.tokenize(" a"), keep=len(prefix))
    tokens, prefilled = _run(one_slot, other)  # shares only BOS with the kept cells
    assert tokens == expected_other and prefilled == len(other) - 1
    assert one_slot.kv_cells_in_use() == {}  # keep_prefix 0: nothing kept, as before the cache

    _run(one_slot, prefix + chat_model.tokenize(" a"), keep=len(prefix))
    tokens, prefilled = _run(one_slot, half)  # shares half the kept cells; the rest dropped
    assert tokens == expected_half and prefilled == len(half) - len(prefix) // 2


def test_a_new_prompt_prefers_the_slot_holding_its_prefix_and_else_an_empty_one(chat_model, prefix):
    engine = _engine(chat_model, slots=2)
    try:
        _run(engine, prefix + [7], keep=len(prefix))
        held = engine.kv_cells_in_use()
        other = chat_model.tokenize("unrelated words", add_special=False)
        _run(engine, other)  # goes to the empty slot: the kept prefix survives
        assert engine.kv_cells_in_use() == held
        _, prefilled = _run(engine, prefix + [9], keep=len(prefix))
        assert prefilled == 1
    finally:
        engine.close()


def test_a_sequence_cancelled_mid_prefill_keeps_only_decoded_cells_and_the_next_is_exact(chat_model, prefix):
    engine = _engine(chat_model, n_batch=SMALL_BATCH)
    try:
        target = prefix + chat_model.tokenize(" the target")
        expected, _ = _run(engine, target)
        streams = []
        step = engine._step

        def step_then_cancel() -> None:
            # The worker's own step, then a cancel: the sequence leaves with exactly one chunk
            # of its prompt decoded (the reap runs before the next step).
            step()
            streams[0].cancel()

        engine._step = step_then_cancel  # type: ignore[method-assign]
        stream = engine.submit(GenerationRequest(prompt=target, params=GREEDY, keep_prefix=len(prefix)))
        streams.append(stream)
        _collect(stream)
        assert stream.finish_reason == "cancelled"
        assert engine.kv_cells_in_use() == {0: SMALL_BATCH}

        engine._step = step  # type: ignore[method-assign]
        tokens, prefilled = _run(engine, target, keep=len(prefix))
        assert tokens == expected and prefilled == len(target) - SMALL_BATCH
    finally:
        engine.close()


class _Broken:
    def allowed(self) -> np.ndarray:
        raise RuntimeError("a broken constraint")

    def accept(self, token_id: int) -> None:
        pass


def test_a_failed_sequence_keeps_nothing(one_slot, prefix):
    stream = one_slot.submit(
        GenerationRequest(prompt=prefix, params=GREEDY, constraint=_Broken(), keep_prefix=len(prefix))
    )
    with pytest.raises(GenerationError, match="broken constraint"):
        _collect(stream)
    assert one_slot.kv_cells_in_use() == {}
    _, prefilled = _run(one_slot, prefix, keep=len(prefix))
    assert prefilled == len(prefix)


def test_keep_prefix_beyond_the_prompt_is_refused(one_slot, prefix):
    with pytest.raises(InvalidInputError, match="keep_prefix"):
        one_slot.validate(GenerationRequest(prompt=prefix, params=GREEDY, keep_prefix=len(prefix) + 1))


def test_slot_choice_longest_shared_prefix_then_empty_then_latest_freed():
    kept = {0: np.array([1, 2, 3]), 1: np.array([1, 2, 9])}
    assert shared_prefix(kept[0], [1, 2, 3, 4]) == 3 and shared_prefix(kept[1], [5]) == 0
    assert best_slot([0, 1, 2], kept, [1, 2, 3, 4]) == 0
    assert best_slot([0, 1, 2], kept, [7, 7]) == 2  # slot 2 is empty
    assert best_slot([2, 3], {}, [7]) == 1  # the latest freed, as without the cache
