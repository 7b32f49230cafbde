"""On a GPU host: llama.cpp really puts every layer on the GPU (N_GPU_LAYERS=-1) and generates there.

Skipped without CUDA (the `gpu` marker); benchmarks/gpu_proof.sh runs it on the GPU host.
"""

import logging
import re

import llama_cpp
import pytest

from coordinator.engine.batch_engine import BatchEngine, GenerationRequest
from coordinator.engine.llama_model import LlamaModel
from coordinator.engine.sampling import SamplingParams

pytestmark = pytest.mark.gpu

# llama.cpp's own report of the offload (src/llama-model.cpp, load_tensors).
OFFLOADED = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")


def test_all_layers_are_offloaded_and_the_engine_generates_on_the_gpu(orpheus_gguf, caplog):
    import torch

    assert llama_cpp.llama_supports_gpu_offload(), "this llama-cpp-python build has no GPU backend"
    free_before, _ = torch.cuda.mem_get_info()
    with caplog.at_level(logging.DEBUG, logger="coordinator.llama_cpp"):
        model = LlamaModel.load(orpheus_gguf, n_gpu_layers=-1)
    try:
        reports = [OFFLOADED.search(record.getMessage()) for record in caplog.records]
        offloaded = [match.groups() for match in reports if match]
        assert offloaded, "llama.cpp did not report its offload"
        done, total = map(int, offloaded[-1])
        assert done == total and total > 0
        engine = BatchEngine(model, n_ctx_per_seq=256, max_sequences=2, n_threads=2)
        try:
            stream = engine.submit(
                GenerationRequest(
                    prompt=model.tokenize("hello there", add_special=True),
                    params=SamplingParams(max_tokens=16, seed=0),
                )
            )
            tokens: list[int] = []
            while True:
                batch = stream.next_batch(timeout=60)
                tokens.extend(batch.tokens)
                if batch.finished:
                    break
            assert 0 < len(tokens) <= 16
            free_after, _ = torch.cuda.mem_get_info()
            # Weights, KV cache and compute buffers now live on the device.
            assert free_before - free_after >= orpheus_gguf.stat().st_size
        finally:
            engine.close()
    finally:
        model.close()
