"""SNAC 24 kHz: loading a checkpoint directory, decoding frames of codes to samples, and encoding
samples to frames (a custom voice's reference, once when the voice is created)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from snac import SNAC
from snac.layers import DecoderBlock, NoiseBlock, ResidualUnit, Snake1d
from torch.nn.utils import parametrize

from coordinator.audio.format import (
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    SNAC_HOP_LENGTH,
    SNAC_HOPS_PER_FRAME,
)
from coordinator.config.catalog import DOWNLOAD_SCRIPT
from coordinator.errors import ConfigError, DeviceOutOfMemoryError, ModelLoadError
from coordinator.orpheus.codes import codebooks_to_frames, frames_to_codebooks

logger = logging.getLogger(__name__)

# torch.cuda.OutOfMemoryError is torch.OutOfMemoryError; MemoryError: the host's allocator.
OUT_OF_MEMORY_ERRORS = (torch.OutOfMemoryError, MemoryError)
OUT_OF_MEMORY_MESSAGE = (
    "SNAC ran out of memory decoding audio: retry shortly; if it persists, lower "
    "MAX_CONCURRENT_STREAMS or SNAC_BATCH_FRAMES, or decode on the CPU (SNAC_DEVICE=cpu)"
)

CONFIG_FILE = "config.json"
# Extra positions kept beyond the computed receptive radius at each crop, against off-by-one.
CROP_SAFETY_POSITIONS = 2
# Window kinds (first windows, steady state, last windows) x padded batch sizes: comfortably more
# than a server meets, each compiled once.
COMPILED_SHAPES_LIMIT = 128
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
    """A loaded SNAC decoder on one device. Decode from one thread at a time."""

    def __init__(self, model: SNAC, device: torch.device, *, compile_mode: str = "off") -> None:
        _fold_weight_norm(model)
        self.model = model.to(device).eval()
        self.device = device
        self.sample_rate = int(model.sampling_rate)
        self._crops = _crop_plan(list(self.model.decoder.model))
        self._compiled: Callable[[list[torch.Tensor], int, int], torch.Tensor] | None = None
        if compile_mode != "off":
            # Shapes are static per window kind and padded batch size; allow enough graphs for
            # all of them rather than silently falling back to eager after torch's default of 8.
            torch._dynamo.config.cache_size_limit = max(
                torch._dynamo.config.cache_size_limit, COMPILED_SHAPES_LIMIT
            )
            self._compiled = torch.compile(self._forward, mode=compile_mode, dynamic=False)
        # On a GPU, SNAC runs on its own CUDA stream so its kernels overlap llama.cpp's steps
        # instead of queueing behind them on the default stream.
        self._stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def decode(self, frames: np.ndarray) -> np.ndarray:
        """(n, 7) code frames → n * SAMPLES_PER_FRAME float32 samples in [-1, 1] (offline decode)."""
        return self.decode_window(frames, 0, len(frames))

    def decode_window(self, frames: np.ndarray, keep_start: int, keep_end: int) -> np.ndarray:
        """Decode ``frames`` (context included) and return the samples of frames [keep_start, keep_end)."""
        return self.decode_batch(np.asarray(frames)[np.newaxis], keep_start, keep_end)[0]

    @torch.inference_mode()
    def decode_batch(self, frames: np.ndarray, keep_start: int, keep_end: int) -> np.ndarray:
        """(B, n, 7) windows of the same shape → (B, samples of frames [keep_start, keep_end))."""
        batch = np.asarray(frames, dtype=np.int64)
        size = len(batch)
        if self._compiled is not None:
            # Compiled graphs are per shape: round the batch up to a power of two (repeating the
            # last window) so a handful of graphs covers every batch size.
            padded = 1 << (size - 1).bit_length()
            batch = np.concatenate([batch, np.repeat(batch[-1:], padded - size, axis=0)])
        books = [frames_to_codebooks(window) for window in batch]
        try:
            with self._on_decode_stream():
                codes = [
                    torch.from_numpy(np.stack([book[level] for book in books])).to(self.device)
                    for level in range(len(books[0]))
                ]
                forward = self._compiled or self._forward
                audio = forward(codes, keep_start, keep_end)[:size]
                # .cpu() waits for this stream's work only, not for the LLM's kernels on the device.
                return audio.float().cpu().numpy()
        # Out of memory is the one failure a user can act on, so it becomes a domain error here,
        # for the CLI as for the server.
        except OUT_OF_MEMORY_ERRORS as exc:
            raise DeviceOutOfMemoryError(OUT_OF_MEMORY_MESSAGE) from exc

    @torch.inference_mode()
    def encode(self, audio: np.ndarray) -> np.ndarray:
        """Float32 mono 24 kHz samples → frames ``(F, 7)`` of codes in Orpheus' frame layout, the
        inverse of what ``decode`` reads; F = ceil(samples / SAMPLES_PER_FRAME) (SNAC pads the end
        to a whole frame). Run it where decodes run (DecodeScheduler.call): never beside one."""
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1 or samples.size == 0:
            raise ValueError(f"encode takes a non-empty 1-D array of samples, got shape {samples.shape}")
        try:
            with self._on_decode_stream():
                x = torch.from_numpy(np.ascontiguousarray(samples)).to(self.device)[None, None, :]
                codes = self.model.encode(x)
                c0, c1, c2 = (level[0].cpu().numpy() for level in codes)
        except OUT_OF_MEMORY_ERRORS as exc:
            raise DeviceOutOfMemoryError(OUT_OF_MEMORY_MESSAGE) from exc
        return codebooks_to_frames(c0, c1, c2)

    def _forward(self, codes: list[torch.Tensor], keep_start: int, keep_end: int) -> torch.Tensor:
        """Codes → (B, kept samples).

        Context frames only matter through the layers' receptive fields, so after each upsampling
        block the activations are cropped to the kept frames plus the receptive radius of the
        layers still to run. The late, high-rate blocks, where most of the time goes, then never
        compute context audio that would be thrown away; the kept samples are unchanged.
        """
        x = self.model.quantizer.from_codes(codes)
        units = SNAC_HOPS_PER_FRAME  # positions per frame at the current layer
        covered_from = 0  # frame-time of x's first position, in the current layer's units
        for index, layer in enumerate(self.model.decoder.model):
            x = layer(x)
            crop = self._crops.get(index)
            if crop is None:
                continue
            new_units, margin = crop
            covered_from *= new_units // units
            units = new_units
            lo = max(covered_from, keep_start * units - margin)
            hi = min(covered_from + x.shape[-1], keep_end * units + margin)
            x = x[..., lo - covered_from : hi - covered_from]
            covered_from = lo
        start = keep_start * SAMPLES_PER_FRAME - covered_from * (SAMPLES_PER_FRAME // units)
        return x[:, 0, start : start + (keep_end - keep_start) * SAMPLES_PER_FRAME]

    def _on_decode_stream(self) -> contextlib.AbstractContextManager[object]:
        return torch.cuda.stream(self._stream) if self._stream is not None else contextlib.nullcontext()


_POINTWISE = (Snake1d, NoiseBlock, torch.nn.Tanh, torch.nn.Identity)


def _receptive_radius(module: torch.nn.Module, radius: int) -> int | None:
    """How far (in ``module``'s input positions) an output window of ``radius`` reaches back.

    Conservative (rounded up). None for a layer it cannot reason about: then no cropping happens.
    """
    if isinstance(module, _POINTWISE):
        return radius
    if isinstance(module, torch.nn.ConvTranspose1d):
        stride, kernel = module.stride[0], module.kernel_size[0]
        return -(-radius // stride) + -(-kernel // stride)
    if isinstance(module, torch.nn.Conv1d) and module.stride[0] == 1:
        return radius + -(-(module.kernel_size[0] - 1) * module.dilation[0] // 2)
    if isinstance(module, torch.nn.Sequential):
        reach: int | None = radius
        for child in reversed(list(module)):
            reach = None if reach is None else _receptive_radius(child, reach)
        return reach
    if isinstance(module, (ResidualUnit, DecoderBlock)):
        return _receptive_radius(module.block, radius)
    return None


def _crop_plan(layers: list[torch.nn.Module]) -> dict[int, tuple[int, int]]:
    """For each upsampling block of the decoder: (positions per frame after it, crop margin)."""
    plan: dict[int, tuple[int, int]] = {}
    units = SNAC_HOPS_PER_FRAME
    for index, layer in enumerate(layers):
        if not isinstance(layer, DecoderBlock):
            continue
        units *= layer.block[1].stride[0]
        radius = _receptive_radius(torch.nn.Sequential(*layers[index + 1 :]), 0)
        if radius is None:
            return {}  # an unknown layer (e.g. attention): decode windows whole
        plan[index] = (units, radius + CROP_SAFETY_POSITIONS)
    return plan


def _fold_weight_norm(model: torch.nn.Module) -> None:
    """Bake weight norm into plain weights. SNAC recomputes g * v / ||v|| for every conv on every
    call otherwise: pure overhead at inference, and most of the fixed cost of a small window."""
    for module in model.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):  # type: ignore[union-attr,operator]
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)


def load_snac(directory: Path, device: torch.device, *, compile_mode: str = "off") -> SnacCodec:
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
    return SnacCodec(model, device, compile_mode=compile_mode)
