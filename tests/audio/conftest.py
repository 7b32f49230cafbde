"""The audio tests' SNAC: the random-weight checkpoint on the CPU, its noise blocks silenced so a
decode is deterministic and can be compared exactly. One per test module, as each used to build."""

from __future__ import annotations

import pytest
import torch

from coordinator.audio.snac_codec import load_snac
from tests.rig.snac_checkpoint import silence_noise_blocks


@pytest.fixture(scope="module")
def codec(snac_dir):
    codec = load_snac(snac_dir, torch.device("cpu"))
    silence_noise_blocks(codec.model)
    return codec
