"""On a GPU host: SNAC on CUDA decodes what the offline decode does, on its own CUDA stream, and in
SNAC_COMPILE's CUDA-graph mode too.

Skipped without CUDA (the `gpu` marker); benchmarks/gpu_proof.sh runs it on the GPU host. Noise is
silenced so decodes can be compared. Tolerances: cuDNN may run float32 convolutions in TF32 on
Hopper (10-bit mantissa), so CUDA against the CPU is held to 1e-3 of full scale; CUDA against CUDA
(same kernels for the same shapes) to 1e-4.
"""

import numpy as np
import pytest
import torch

from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.audio.snac_codec import load_snac
from tests.rig.snac_checkpoint import silence_noise_blocks

pytestmark = pytest.mark.gpu

N_FRAMES = 20
CUDA_VS_CPU = 1e-3
CUDA_VS_CUDA = 1e-4
# (context_start, start, end, context_end): 3 frames of context each side, or a true edge.
WINDOWS = [(0, 0, 1, 4), (0, 0, 5, 8), (2, 5, 9, 12), (9, 12, 17, 20), (13, 16, 20, 20)]


def _codec(snac_dir, device: str, compile_mode: str = "off"):
    codec = load_snac(snac_dir, torch.device(device), compile_mode=compile_mode)
    silence_noise_blocks(codec.model)
    return codec


@pytest.fixture(scope="module")
def frames():
    frames = np.random.default_rng(1).integers(0, 4096, size=(N_FRAMES, 7))
    frames[0], frames[-1] = 0, 4095
    return frames


@pytest.fixture(scope="module")
def cuda_codec(snac_dir):
    return _codec(snac_dir, "cuda")


@pytest.fixture(scope="module")
def cpu_offline(snac_dir, frames):
    return _codec(snac_dir, "cpu").decode(frames)


def _windows(codec, frames) -> np.ndarray:
    return np.concatenate([codec.decode_window(frames[cs:ce], s - cs, e - cs) for cs, s, e, ce in WINDOWS])


def test_cuda_offline_decode_matches_the_cpu_decode(cuda_codec, frames, cpu_offline):
    cuda_offline = cuda_codec.decode(frames)
    assert cuda_offline.shape == (N_FRAMES * SAMPLES_PER_FRAME,)
    assert np.abs(cuda_offline - cpu_offline).max() < CUDA_VS_CPU


def test_streaming_windows_on_cuda_are_exact_against_the_offline_decode(cuda_codec, frames):
    offline = cuda_codec.decode(frames)
    assert np.abs(_windows(cuda_codec, frames) - offline).max() < CUDA_VS_CUDA


def test_decodes_run_on_snacs_own_stream_and_stay_exact_while_the_default_stream_is_busy(
    cuda_codec, frames, monkeypatch
):
    quiet = _windows(cuda_codec, frames)
    streams = []
    forward = cuda_codec._forward

    def recording(*args):
        streams.append(torch.cuda.current_stream())
        return forward(*args)

    monkeypatch.setattr(cuda_codec, "_forward", recording)
    # Another user of the device (as llama.cpp's kernels are) keeps the default stream busy.
    a = torch.randn(4096, 4096, device="cuda")
    for _ in range(20):
        a = torch.tanh(a @ a)
    busy = _windows(cuda_codec, frames)
    torch.cuda.synchronize()
    assert streams and all(s != torch.cuda.default_stream() for s in streams)
    assert all(s == cuda_codec._stream for s in streams)
    assert np.abs(busy - quiet).max() < CUDA_VS_CUDA


def test_snac_compile_reduce_overhead_uses_cuda_graphs_and_gives_the_eager_samples(
    snac_dir, frames, cuda_codec
):
    from torch._dynamo.utils import counters

    counters.clear()
    compiled = _codec(snac_dir, "cuda", compile_mode="reduce-overhead")
    batch = np.stack([frames[2:12], frames[5:15], frames[9:19]])  # padded to 4 inside
    eager = cuda_codec.decode_batch(batch, 3, 7)
    first = compiled.decode_batch(batch, 3, 7)  # compiles and records the graph
    again = compiled.decode_batch(batch, 3, 7)  # replays it
    assert np.abs(first - eager).max() < CUDA_VS_CPU
    assert np.abs(again - eager).max() < CUDA_VS_CPU
    assert np.array_equal(first, again)
    # Inductor counts every graph it could not run as a CUDA graph (and why) here.
    assert counters["inductor"].get("cudagraph_skips", 0) == 0
