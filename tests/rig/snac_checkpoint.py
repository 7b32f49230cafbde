"""A random-weight SNAC 24 kHz checkpoint, built from the real config (no download needed)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from snac import SNAC
from snac.layers import NoiseBlock
from torch.nn.utils import parametrize

# hubertsiuzdak/snac_24khz config.json (NOTES.md).
SNAC_24KHZ_CONFIG = {
    "sampling_rate": 24000,
    "encoder_dim": 48,
    "encoder_rates": [2, 4, 8, 8],
    "decoder_dim": 1024,
    "decoder_rates": [8, 8, 4, 2],
    "attn_window_size": None,
    "codebook_size": 4096,
    "codebook_dim": 8,
    "vq_strides": [4, 2, 1],
    "noise": True,
    "depthwise": True,
}


def write_random_snac(directory: Path, *, seed: int = 0) -> Path:
    """Write config.json + pytorch_model.bin of a randomly initialised SNAC 24 kHz."""
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = SNAC(**SNAC_24KHZ_CONFIG)
    (directory / "config.json").write_text(json.dumps(SNAC_24KHZ_CONFIG))
    torch.save(model.state_dict(), directory / "pytorch_model.bin")
    return directory


def silence_noise_blocks(model: torch.nn.Module) -> None:
    """Zero the learned scale of every NoiseBlock, making decode deterministic (for comparisons).

    NoiseBlock adds ``randn * conv1x1(x)``: zeroing that conv's weight zeroes the added noise. The
    conv is weight-normed in a fresh SNAC (zero g, ``original0``) and plain once SnacCodec folded it.
    """
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, NoiseBlock):
                conv = module.linear
                if parametrize.is_parametrized(conv):
                    conv.parametrizations.weight.original0.zero_()
                else:
                    conv.weight.zero_()
