"""On a GPU host: a real CUDA out-of-memory inside SNAC is answered 503 (retry) and the server recovers.

Skipped without CUDA (the `gpu` marker); benchmarks/gpu_proof.sh runs it on the GPU host. The CPU twin,
with the error raised by a stand-in, is test_faults.py's out-of-memory test. Here nothing is
raised by hand: the device is filled just before SNAC's first decode, so SNAC's own allocations fail.
Orpheus and Gemma stay on the CPU (N_GPU_LAYERS=0): llama.cpp must not be the one to run out.
"""

import httpx
import pytest

from coordinator.bench.server import running_server

pytestmark = pytest.mark.gpu

MIB = 1024**2
TIMEOUT_S = 120
SPEECH = {
    "model": "tts-1",
    "input": "Hello there.",
    "voice": "tara",
    "response_format": "pcm",
    "max_tokens": 28,
    "seed": 0,
}


def _fill_device(device) -> list:
    """Allocate the device's free memory in ever smaller blocks, down to 1 MiB: nothing is left."""
    import torch

    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    blocks, size = [], 1 << 30
    while size >= MIB:
        try:
            blocks.append(torch.empty(size, dtype=torch.uint8, device=device))
        except torch.OutOfMemoryError:
            size //= 2
    return blocks


def test_a_real_cuda_oom_in_snac_is_a_503_and_the_next_request_gets_its_audio(settings, monkeypatch):
    import torch

    gpu = settings.model_copy(update={"snac_device": "cuda", "n_gpu_layers": 0, "max_concurrent_streams": 2})
    with running_server(gpu, startup_timeout_s=300) as (url, app):
        codec = app.state.runtime.snac.codec
        real = codec.decode_batch
        starved = {"calls": 0}

        def decode_on_a_full_device(*args):
            starved["calls"] += 1
            if starved["calls"] > 1:
                return real(*args)
            blocks = _fill_device(codec.device)
            try:
                return real(*args)
            finally:
                del blocks[:]
                torch.cuda.empty_cache()

        monkeypatch.setattr(codec, "decode_batch", decode_on_a_full_device)
        response = httpx.post(f"{url}/v1/audio/speech", json=SPEECH, timeout=TIMEOUT_S)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "out_of_memory"
        assert response.headers["retry-after"].isdigit()
        assert starved["calls"] == 1

        again = httpx.post(f"{url}/v1/audio/speech", json=SPEECH, timeout=TIMEOUT_S)
        assert again.status_code == 200 and len(again.content) > 0
