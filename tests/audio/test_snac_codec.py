"""SNAC loading and windowed decoding on a random-weight 24 kHz checkpoint."""

import numpy as np
import pytest
import torch

from coordinator.audio.format import SAMPLES_PER_FRAME
from coordinator.audio.snac_codec import load_snac, resolve_device
from coordinator.errors import ConfigError, ModelLoadError
from tests.rig.snac_checkpoint import silence_noise_blocks

N_FRAMES = 20


@pytest.fixture(scope="module")
def frames():
    frames = np.random.default_rng(1).integers(0, 4096, size=(N_FRAMES, 7))
    frames[0], frames[-1] = 0, 4095  # the extreme codes decode like any other
    return frames


@pytest.fixture(scope="module")
def offline(codec, frames):
    return codec.decode(frames)


def test_offline_decode_gives_exactly_2048_samples_per_frame_in_range(offline):
    assert offline.shape == (N_FRAMES * SAMPLES_PER_FRAME,) and offline.dtype == np.float32
    assert np.abs(offline).max() <= 1.0 and np.abs(offline).max() > 0


@pytest.mark.parametrize(
    ("context_start", "start", "end", "context_end"),
    [(0, 0, 1, 4), (0, 0, 5, 8), (2, 5, 9, 12), (9, 12, 17, 20), (13, 16, 20, 20), (0, 0, 20, 20)],
)
def test_a_window_with_three_frames_of_context_or_a_true_edge_matches_offline(
    codec, frames, offline, context_start, start, end, context_end
):
    window = codec.decode_window(
        frames[context_start:context_end], start - context_start, end - context_start
    )
    expected = offline[start * SAMPLES_PER_FRAME : end * SAMPLES_PER_FRAME]
    assert window.shape == expected.shape
    assert np.abs(window - expected).max() < 1e-5


def test_crops_are_planned_after_every_upsampling_block(codec):
    # 4 decoder blocks; positions per frame grow 4 → 32 → 256 → 1024 → 2048.
    assert [units for units, _ in codec._crops.values()] == [32, 256, 1024, 2048]


def test_auto_device_is_cpu_without_a_gpu_and_cuda_without_one_is_refused():
    if torch.cuda.is_available():
        pytest.skip("this host has a GPU")
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match="SNAC_DEVICE=cuda but torch sees no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="invalid SNAC_DEVICE='gpu0'"):
        resolve_device("gpu0")


def test_a_checkpoint_for_another_sample_rate_is_refused(snac_dir, tmp_path):
    import json

    config = json.loads((snac_dir / "config.json").read_text())
    config["sampling_rate"] = 32000
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "pytorch_model.bin").write_bytes((snac_dir / "pytorch_model.bin").read_bytes())
    with pytest.raises(ModelLoadError, match="Orpheus needs the 24000 Hz model"):
        load_snac(tmp_path, torch.device("cpu"))


def test_weights_of_another_shape_are_refused(snac_dir, tmp_path):
    (tmp_path / "config.json").write_text((snac_dir / "config.json").read_text())
    torch.save({"decoder.model.0.weight": torch.zeros(3)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="cannot be loaded"):
        load_snac(tmp_path, torch.device("cpu"))


def test_three_frames_of_context_cover_the_decoders_receptive_field_for_any_weights(codec):
    from coordinator.audio.format import SNAC_HOPS_PER_FRAME
    from coordinator.audio.snac_codec import _receptive_radius
    from coordinator.audio.windows import EXACT_LOOKAHEAD_FRAMES, LEFT_CONTEXT_FRAMES

    # Derived from the layer shapes alone (kernel sizes, dilations, strides), rounded up: this
    # holds for the real checkpoint as much as for the random one.
    radius_hops = _receptive_radius(codec.model.decoder.model, 0)
    assert radius_hops <= LEFT_CONTEXT_FRAMES * SNAC_HOPS_PER_FRAME
    assert radius_hops <= EXACT_LOOKAHEAD_FRAMES * SNAC_HOPS_PER_FRAME


def test_a_compiled_decoder_gives_the_eager_samples(snac_dir, frames):
    # SNAC_COMPILE's CPU twin (the GPU's reduce-overhead mode, CUDA graphs, is not run here).
    # Compiling takes tens of seconds per window shape on this CPU, so one small shape only.
    eager = load_snac(snac_dir, torch.device("cpu"))
    compiled = load_snac(snac_dir, torch.device("cpu"), compile_mode="default")
    silence_noise_blocks(eager.model)
    silence_noise_blocks(compiled.model)
    batch = np.stack([frames[0:4], frames[4:8], frames[8:12]])  # padded to 4 inside
    expected = eager.decode_batch(batch, 0, 1)
    assert np.abs(compiled.decode_batch(batch, 0, 1) - expected).max() < 1e-4
