"""A random-weight SNAC 24 kHz checkpoint, built from the real config (no download needed)."""

from __future__ import annotations

import torch
from snac.layers import NoiseBlock
from torch.nn.utils import parametrize

# The writer lives in the package: `coordinator bench --synthetic` writes a random SNAC at run time.
from coordinator.bench.synthetic import SNAC_24KHZ_CONFIG, write_random_snac

__all__ = ["SNAC_24KHZ_CONFIG", "silence_noise_blocks", "write_random_snac"]


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
