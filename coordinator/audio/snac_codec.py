"""SNAC 24 kHz: loading a checkpoint directory and decoding frames of codes to samples."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from snac import SNAC
from torch.nn.utils import parametrize

from coordinator.audio.format import SAMPLE_RATE, SNAC_HOP_LENGTH
from coordinator.config import DOWNLOAD_SCRIPT
from coordinator.errors import ConfigError, ModelLoadError
from coordinator.orpheus.codes import frames_to_codebooks

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "pytorch_model.bin"


def resolve_device(name: str) -> torch.device:
    """'auto' → cuda when torch sees a GPU, else cpu; an explicit cuda without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"invalid SNAC_DEVICE={name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"SNAC_DEVICE={name} but torch sees no CUDA GPU: install a CUDA build of torch "
            "or set SNAC_DEVICE=cpu"
        )
    return device


class SnacCodec:
    """A loaded SNAC decoder on one device. ``decode`` is safe to call from one thread at a time."""

    def __init__(self, model: SNAC, device: torch.device) -> None:
        _fold_weight_norm(model)
        self.model = model.to(device).eval()
        self.device = device
        self.sample_rate = int(model.sampling_rate)

    @torch.inference_mode()
    def decode(self, frames: np.ndarray) -> np.ndarray:
        """(n, 7) code frames → n * SAMPLES_PER_FRAME float32 samples in [-1, 1]."""
        codes = [torch.from_numpy(book).to(self.device).unsqueeze(0) for book in frames_to_codebooks(frames)]
        audio = self.model.decode(codes)
        return audio.reshape(-1).float().cpu().numpy()


def _fold_weight_norm(model: torch.nn.Module) -> None:
    """Bake weight norm into plain weights. SNAC recomputes g * v / ||v|| for every conv on every
    call otherwise: pure overhead at inference, and most of the fixed cost of a small window."""
    for module in model.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)


def load_snac(directory: Path, device: torch.device) -> SnacCodec:
    """Load a SNAC checkpoint directory (config.json + pytorch_model.bin), with clear errors."""
    fix = f"download it with `{DOWNLOAD_SCRIPT} --only snac` or set SNAC_MODEL_PATH"
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ModelLoadError(f"SNAC directory {directory} has no {path.name}: {fix}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        model = SNAC(**config)
    except (ValueError, TypeError) as exc:
        raise ModelLoadError(f"SNAC config {config_path} is invalid ({exc}): {fix}") from None
    if model.sampling_rate != SAMPLE_RATE or int(model.hop_length) != SNAC_HOP_LENGTH:
        raise ModelLoadError(
            f"{config_path} describes a {model.sampling_rate} Hz SNAC with hop {model.hop_length}; "
            f"Orpheus needs the {SAMPLE_RATE} Hz model (hubertsiuzdak/snac_24khz): {fix}"
        )
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # torch raises many types for a corrupt or mismatched file
        reason = str(exc).splitlines()[0][:200]
        raise ModelLoadError(f"SNAC weights {weights_path} cannot be loaded ({reason}): {fix}") from None
    logger.info("SNAC loaded from %s on %s", directory, device)
    return SnacCodec(model, device)
