"""Which models `coordinator bench` measures: the configured ones, or synthetic ones written here."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

from coordinator.bench.shapes import GEMMA2_2B, ORPHEUS_3B, TINY_GEMMA2, TINY_QUANTIZABLE, ModelShape
from coordinator.bench.synthetic import build_chat_gguf, build_orpheus_gguf, quantize, write_random_snac
from coordinator.config.catalog import load_catalog
from coordinator.config.selection import resolve_model_path
from coordinator.config.settings import Settings

logger = logging.getLogger(__name__)

SYNTHETIC_SEED = 0
TINY_CHAT_VOCAB = 4096  # the tiny chat model's words: enough that its random replies are speakable


def _describe(
    path: Path, quant: str, *, shape: ModelShape | None = None, write_s: float | None = None
) -> dict:
    info: dict = {"path": str(path), "quant": quant, "size_bytes": path.stat().st_size}
    if shape is not None:
        info |= {"synthetic": True, "shape": asdict(shape)}
        if write_s is not None:
            info["written_in_s"] = write_s
    return info


def _timed_build(path: Path, build, **kwargs) -> float | None:
    """Build ``path`` unless a complete one is there already (writes are atomic); seconds taken."""
    if path.is_file():
        logger.info("reusing %s", path)
        return None
    started = time.monotonic()
    build(path, **kwargs)
    return time.monotonic() - started


def synthetic_models(
    directory: Path,
    *,
    quant: str,
    llm_quant: str = "Q8_0",
    tiny: bool = False,
    cloning: bool = False,
    deadline: float | None = None,
) -> tuple[dict, dict]:
    """Write (or reuse) random-weight Orpheus, Gemma and SNAC in ``directory`` (and, with
    ``cloning``, a pretrained Orpheus stand-in loaded beside it, for the custom voices).

    Returns the settings that point at them and their description for the report."""
    directory.mkdir(parents=True, exist_ok=True)
    orpheus_shape, llm_shape = (TINY_QUANTIZABLE, TINY_GEMMA2) if tiny else (ORPHEUS_3B, GEMMA2_2B)
    size = "tiny" if tiny else "real"
    real_ids = not tiny
    orpheus = directory / f"orpheus-3b-{size}-shape-random-{quant}.gguf"
    llm = directory / f"gemma-2-2b-{size}-shape-random-{llm_quant}.gguf"
    snac = directory / "snac_24khz-random"
    orpheus_q8_0 = directory / f"orpheus-3b-{size}-shape-random-Q8_0.gguf"
    if quant == "Q4_K_M" and orpheus_q8_0.is_file():
        # Q4_K_M is made from Q8_0 anyway: from the one already written, if there is one.
        orpheus_s = _timed_build(
            orpheus, lambda path, **_: quantize(orpheus_q8_0, path, quant, deadline=deadline)
        )
    else:
        orpheus_s = _timed_build(
            orpheus,
            build_orpheus_gguf,
            shape=orpheus_shape,
            quant=quant,
            real_ids=real_ids,
            seed=SYNTHETIC_SEED,
            deadline=deadline,
        )
    llm_s = _timed_build(
        llm,
        build_chat_gguf,
        shape=llm_shape,
        quant=llm_quant,
        real_ids=real_ids,
        words_to=None if real_ids else TINY_CHAT_VOCAB,
        seed=SYNTHETIC_SEED,
        deadline=deadline,
    )
    if not (snac / "pytorch_model.bin").is_file():
        write_random_snac(snac, seed=SYNTHETIC_SEED)
    overrides: dict[str, object] = {
        "orpheus_model_path": orpheus,
        "llm_model_path": llm,
        "snac_model_path": snac,
    }
    models = {
        "orpheus": _describe(orpheus, quant, shape=orpheus_shape, write_s=orpheus_s),
        "llm": _describe(llm, llm_quant, shape=llm_shape, write_s=llm_s),
        "snac": {"path": str(snac), "synthetic": True},
    }
    if cloning:
        # The pretrained model has the fine-tune's architecture and vocabulary: the same shape and
        # quantization, other random weights.
        pretrained = directory / f"orpheus-3b-pretrained-{size}-shape-random-{quant}.gguf"
        pretrained_s = _timed_build(
            pretrained,
            build_orpheus_gguf,
            shape=orpheus_shape,
            quant=quant,
            real_ids=real_ids,
            seed=SYNTHETIC_SEED + 1,
            deadline=deadline,
        )
        overrides |= {
            "orpheus_models": ["en", "pretrained"],
            "orpheus_model_paths": {"pretrained": pretrained},
        }
        models["pretrained"] = _describe(pretrained, quant, shape=orpheus_shape, write_s=pretrained_s)
    return overrides, models


def configured_models(settings: Settings) -> dict:
    """The models the server would load, as the report describes them (missing ones fail here)."""
    catalog = load_catalog(settings.catalog_path())
    models = {}
    for role in ("orpheus", "llm"):
        path, quant = resolve_model_path(role, catalog, settings)
        models[role] = _describe(path, quant)
    snac, _ = resolve_model_path("snac", catalog, settings)
    models["snac"] = {"path": str(snac)}
    return models
