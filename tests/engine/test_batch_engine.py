import asyncio
import logging

import numpy as np
import pytest

from coordinator.engine import llama_model
from coordinator.engine.batch_engine import BatchEngine, GenerationRequest
from coordinator.engine.llama_model import LlamaModel
from coordinator.engine.sampling import SamplingParams
from coordinator.errors import ContextLengthExceededError, InvalidInputError, ModelLoadError
from tests.rig.clock import FakeClock

N_CTX = 256


@pytest.fixture(scope="module")
def chat_model(chat_gguf):
    with LlamaModel.load(chat_gguf, n_gpu_layers=0) as model:
        yield model


@pytest.fixture
def engine(chat_model):
    engine = BatchEngine(chat_model, n_ctx_per_seq=N_CTX, max_sequences=4, n_threads=2, name="test")
    yield engine
    engine.close()


def _request(model, text="hello there", **params):
    params.setdefault("temperature", 1.0)
    params.setdefault("seed", 0)
    return GenerationRequest(prompt=model.tokenize(text, add_special=True), params=SamplingParams(**params))


def _collect(stream):
    tokens = []
    while True:
        batch = stream.next_batch(timeout=30)
        tokens += batch.tokens
        if batch.finished:
            return tokens


def test_a_request_generates_exactly_max_tokens_and_reports_length(engine, chat_model):
    stream = engine.submit(_request(chat_model, max_tokens=12))
    tokens = _collect(stream)
    assert len(tokens) == 12 and stream.finish_reason == "length"
    assert all(0 <= t < chat_model.n_vocab for t in tokens)
    assert stream.completion_tokens == 12


def test_same_seed_same_tokens(engine, chat_model):
    first = _collect(engine.submit(_request(chat_model, max_tokens=10, seed=5)))
    second = _collect(engine.submit(_request(chat_model, max_tokens=10, seed=5)))
    assert first == second


def test_several_sequences_are_decoded_together_in_one_batch_per_step(engine, chat_model):
    # Hold the worker on a job so that all four requests are admitted at the same step.
    import threading

    gate = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        holding.set()
        gate.wait()

    engine.call_in_worker(hold)
    # Submit only once the worker is inside the job: before that, it may still be at its admission
    # and take the first requests a step ahead of the rest (21 steps, seen on an idle machine).
    try:
        assert holding.wait(timeout=60)
        streams = [engine.submit(_request(chat_model, max_tokens=20, seed=s)) for s in range(4)]
        steps_before = engine.stats.steps
    finally:
        gate.set()  # a held worker would make the fixture's close() wait forever
    results = [_collect(s) for s in streams]
    assert [len(r) for r in results] == [20, 20, 20, 20]
    # One prefill step for all prompts plus one step per further token: 20 steps, not 80.
    assert engine.stats.steps - steps_before == 20
    assert len({tuple(r) for r in results}) > 1  # per-sequence seeds really differ


def test_a_stop_token_ends_the_sequence_without_being_emitted(engine, chat_model):
    stop = 7
    request = _request(chat_model, max_tokens=50, logit_bias={stop: 100.0})
    stream = engine.submit(GenerationRequest(request.prompt, request.params, stop_ids=frozenset({stop})))
    assert _collect(stream) == [] and stream.finish_reason == "stop"


def test_a_constraint_limits_every_sampled_token(engine, chat_model):
    class OnlyEven:
        allowed_ids = np.arange(10, 40, 2)

        def allowed(self):
            return self.allowed_ids

        def accept(self, token_id):
            pass

    request = _request(chat_model, max_tokens=30)
    tokens = _collect(engine.submit(GenerationRequest(request.prompt, request.params, constraint=OnlyEven())))
    assert set(tokens) <= set(OnlyEven.allowed_ids.tolist()) and len(tokens) == 30


def test_cancel_stops_the_sequence_and_frees_its_kv_cells_at_once(engine, chat_model):
    stream = engine.submit(_request(chat_model, max_tokens=N_CTX - 20))
    first = stream.next_batch(timeout=30)
    assert first.tokens
    assert engine.kv_cells_in_use()  # the running sequence holds cells
    stream.cancel()
    _collect(stream)
    assert stream.finish_reason == "cancelled"
    assert engine.kv_cells_in_use() == {}
    # The slot is reusable straight away.
    assert len(_collect(engine.submit(_request(chat_model, max_tokens=5)))) == 5


def test_finished_sequences_free_their_cells(engine, chat_model):
    _collect(engine.submit(_request(chat_model, max_tokens=5)))
    assert engine.kv_cells_in_use() == {}


def test_more_requests_than_slots_wait_and_all_complete(engine, chat_model):
    streams = [engine.submit(_request(chat_model, max_tokens=8, seed=s)) for s in range(9)]
    assert all(len(_collect(s)) == 8 for s in streams)


def test_a_prompt_that_does_not_fit_the_context_is_refused_up_front(engine, chat_model):
    with pytest.raises(ContextLengthExceededError, match="exceeds the context of 256 tokens"):
        engine.submit(_request(chat_model, max_tokens=N_CTX))
    with pytest.raises(InvalidInputError, match="empty"):
        engine.submit(GenerationRequest(prompt=[], params=SamplingParams()))


def test_async_consumers_get_tokens_without_blocking_the_loop(engine, chat_model):
    async def main():
        loop = asyncio.get_running_loop()
        streams = [engine.submit(_request(chat_model, max_tokens=15, seed=s), loop=loop) for s in range(3)]
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)  # kept: a bare yield to the loop (counts its turns), no time

        tick_task = asyncio.create_task(ticker())

        async def collect(stream):
            tokens = []
            while True:
                batch = await stream.anext_batch()
                tokens += batch.tokens
                if batch.finished:
                    return tokens

        results = await asyncio.gather(*(collect(s) for s in streams))
        tick_task.cancel()
        return results, ticks

    results, ticks = asyncio.run(main())
    assert [len(r) for r in results] == [15, 15, 15]
    assert ticks > 3  # the loop kept running while tokens were generated


def test_a_corrupt_gguf_is_refused_with_the_fix(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelLoadError, match="corrupt or truncated.*re-download"):
        LlamaModel.load(bad)
    not_gguf = tmp_path / "weights.bin"
    not_gguf.write_bytes(b"PK\x03\x04 zip")
    with pytest.raises(ModelLoadError, match="not a GGUF file"):
        LlamaModel.load(not_gguf)


def test_truncated_gguf_is_refused(orpheus_gguf, tmp_path):
    data = orpheus_gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="corrupt or truncated"):
        LlamaModel.load(cut)


def test_long_prompts_are_prefilled_in_chunks_without_stalling_a_speaking_sequence(chat_model):
    import threading

    batch = 16
    short = _request(chat_model, "hi", max_tokens=30)
    long_prompt = _request(chat_model, "xq " * 40, max_tokens=5)
    assert len(long_prompt.prompt) > 3 * batch  # needs several batches to prefill
    engine = BatchEngine(
        chat_model, n_ctx_per_seq=N_CTX, max_sequences=2, n_threads=2, n_batch=batch, name="t"
    )
    gate = threading.Event()
    try:
        engine.call_in_worker(gate.wait)  # hold the worker so both requests join the same step
        speaking = engine.submit(short)
        late = engine.submit(long_prompt)
        gate.set()
        assert len(_collect(speaking)) == 30
        assert len(_collect(late)) == 5
        # The short request got a token at every step while the long prompt was prefilled beside
        # it, at most 16 tokens per batch: 30 steps in all, not 30 plus the prefill.
        assert engine.stats.steps == 30
        assert engine.stats.prompt_tokens == len(short.prompt) + len(long_prompt.prompt)
    finally:
        gate.set()
        engine.close()


def test_a_sampling_failure_fails_only_its_sequence_and_the_engine_keeps_serving(engine, chat_model):
    from coordinator.errors import GenerationError

    class BreaksAfterFive:
        calls = 0

        def allowed(self):
            self.calls += 1
            if self.calls > 5:
                raise RuntimeError("constraint exploded")
            return np.arange(10, 20)

        def accept(self, token_id):
            pass

    request = _request(chat_model, max_tokens=50)
    healthy = engine.submit(_request(chat_model, max_tokens=30))
    stream = engine.submit(GenerationRequest(request.prompt, request.params, constraint=BreaksAfterFive()))
    with pytest.raises(GenerationError, match="constraint exploded"):
        _collect(stream)
    assert len(_collect(healthy)) == 30 and healthy.finish_reason == "length"
    assert engine.kv_cells_in_use() == {}
    assert len(_collect(engine.submit(_request(chat_model, max_tokens=4)))) == 4


def test_when_slots_and_queue_are_full_a_request_is_refused_at_once(chat_model):
    import threading

    from coordinator.errors import QueueFullError

    engine = BatchEngine(chat_model, n_ctx_per_seq=N_CTX, max_sequences=1, max_queue=1, n_threads=2, name="q")
    gate = threading.Event()
    engine.call_in_worker(gate.wait)  # nothing is admitted while the worker is held
    try:
        first = engine.submit(_request(chat_model, max_tokens=3))  # takes the free slot
        second = engine.submit(_request(chat_model, max_tokens=3))  # waits in the queue
        with pytest.raises(QueueFullError, match="at capacity"):
            engine.submit(_request(chat_model, max_tokens=3))
    finally:
        gate.set()
    assert len(_collect(first)) == 3 and len(_collect(second)) == 3
    assert len(_collect(engine.submit(_request(chat_model, max_tokens=3)))) == 3  # room again
    engine.close()


def test_a_continuation_is_never_refused_and_waits_ahead_of_new_requests(chat_model):
    import threading

    from coordinator.errors import QueueFullError

    engine = BatchEngine(chat_model, n_ctx_per_seq=N_CTX, max_sequences=1, max_queue=1, n_threads=2, name="c")
    gate = threading.Event()
    engine.call_in_worker(gate.wait)  # nothing is admitted while the worker is held
    try:
        first = engine.submit(_request(chat_model, max_tokens=3))  # takes the free slot
        newcomer = engine.submit(_request(chat_model, max_tokens=3))  # fills the queue
        with pytest.raises(QueueFullError):
            engine.submit(_request(chat_model, max_tokens=3))
        # The next sentence of a reply already speaking: accepted all the same, and queued first.
        continuation = engine.submit(_request(chat_model, max_tokens=3), continuation=True)
    finally:
        gate.set()
    assert len(_collect(first)) == 3
    newcomer_tokens = newcomer.next_batch(timeout=30).tokens  # the newcomer has the only slot now...
    # ...so the continuation, queued after it but ahead of it, has already run to its end.
    continuation_tokens = []
    while not (batch := continuation.next_batch(timeout=0)).finished:
        continuation_tokens += batch.tokens
    assert len(continuation_tokens + batch.tokens) == 3
    assert len(newcomer_tokens + _collect(newcomer)) == 3
    engine.close()


def test_a_request_that_waits_too_long_for_a_slot_gets_a_timeout(chat_model):
    from coordinator.errors import QueueTimeoutError

    clock = FakeClock()
    engine = BatchEngine(
        chat_model,
        n_ctx_per_seq=N_CTX,
        max_sequences=1,
        queue_timeout_s=0.2,
        n_threads=2,
        name="t",
        clock=clock,
    )
    try:

        class Slow:  # keeps the only slot busy; each step it takes, the engine's clock moves on
            def allowed(self):
                clock.advance(0.05)
                return np.arange(10, 20)

            def accept(self, token_id):
                pass

        request = _request(chat_model, max_tokens=N_CTX - 20)
        busy = engine.submit(GenerationRequest(request.prompt, request.params, constraint=Slow()))
        busy.next_batch(timeout=30)  # it holds the only slot now
        waiting = engine.submit(_request(chat_model, max_tokens=3))
        with pytest.raises(QueueTimeoutError, match="waited over 0.2 s"):
            _collect(waiting)
        busy.cancel()
    finally:
        engine.close()


def test_gpu_layers_asked_for_with_no_gpu_visible_warn_that_it_runs_on_the_cpu(
    chat_gguf, caplog, monkeypatch
):
    # As the GPU image (a CUDA build) does when started without --gpus: this CPU build sees no GPU.
    monkeypatch.setattr(llama_model, "_is_cuda_build", lambda: True)
    with caplog.at_level(logging.WARNING), LlamaModel.load(chat_gguf, n_gpu_layers=-1):
        pass
    assert "N_GPU_LAYERS=-1 asks for the GPU, but llama.cpp sees no GPU" in caplog.text
    assert "--gpus all" in caplog.text and "running on the CPU" in caplog.text


def test_a_cpu_only_build_does_not_warn_about_gpu_layers(chat_gguf, caplog):
    with caplog.at_level(logging.WARNING), LlamaModel.load(chat_gguf, n_gpu_layers=-1):
        pass
    assert "asks for the GPU" not in caplog.text
