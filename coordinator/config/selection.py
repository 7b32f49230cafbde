"""Model selection: which files the settings pick from the catalog, and where they are on disk.

Every path resolved here either exists or raises ModelNotFoundError naming the download command
and the setting that points at a local copy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from coordinator.config.catalog import (
    DEFAULT_ORPHEUS_MODEL,
    DOWNLOAD_SCRIPT,
    GGUFModelSpec,
    ModelCatalog,
    ModelRole,
    OrpheusSpec,
    SttVariant,
    model_id,
)
from coordinator.config.settings import Settings
from coordinator.errors import ConfigError, ModelNotFoundError

logger = logging.getLogger(__name__)


def _gguf_path(role: Literal["orpheus", "llm"], spec: GGUFModelSpec, settings: Settings) -> tuple[Path, str]:
    override = settings.orpheus_model_path if role == "orpheus" else settings.llm_model_path
    chosen = (settings.orpheus_quant if role == "orpheus" else settings.llm_quant) or spec.default_quant
    quant_file = spec.quant(chosen, role=role)  # validates the name even when a path overrides it
    if override is not None:
        return override, chosen if override.name in (quant_file.file, quant_file.local_name) else "custom"
    return settings.models_dir / quant_file.local_name, chosen


def snac_dir(catalog: ModelCatalog, settings: Settings) -> Path:
    if settings.snac_model_path is not None:
        return settings.snac_model_path
    return settings.models_dir / catalog.snac.repo.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class OrpheusChoice:
    """One Orpheus model ORPHEUS_MODELS selects: its catalog entry, quantization and file."""

    key: str
    spec: OrpheusSpec
    quant: str  # "custom" for a local file of another name
    path: Path
    env: str  # the setting that points at a local copy
    local: bool = False  # the path comes from that setting, not from MODELS_DIR and the catalog

    @property
    def model_id(self) -> str:
        return model_id(self.spec.name)

    def require_file(self) -> Path:
        if not self.path.is_file():
            download = f"{DOWNLOAD_SCRIPT} --only orpheus" + (
                "" if self.quant == "custom" else f" --quant {self.quant}"
            )
            hint = f"ORPHEUS_MODELS={self.key} " if self.key != DEFAULT_ORPHEUS_MODEL else ""
            raise ModelNotFoundError(
                f"orpheus model {self.key} ({self.spec.name}) not found at {self.path}: download it "
                f"with `{hint}{download}` or set {self.env} to a local copy",
                param=self.env.lower(),
            )
        return self.path


def _catalog_key(name: str, models: dict[str, OrpheusSpec]) -> str:
    if name in models:
        return name
    for key, spec in models.items():
        if name in spec.languages:
            return key
    choices = ", ".join(f"{key} ({'/'.join(spec.languages)})" for key, spec in models.items())
    raise ConfigError(
        f"unknown Orpheus model {name!r} in ORPHEUS_MODELS: choose keys or languages of models.yaml: {choices}",
        param="orpheus_models",
    )


def select_orpheus(
    catalog: ModelCatalog, settings: Settings, *, quant: str | None = None
) -> list[OrpheusChoice]:
    """The Orpheus models ORPHEUS_MODELS selects, in its order, each once.

    Quantization: ``key:QUANT`` in ORPHEUS_MODELS for that model; else ``quant`` (download
    --quant) or ORPHEUS_QUANT for every model that offers it (the language fine-tunes come in
    Q8_0 only: they keep their default, and the log says so); else the model's default_quant.
    """
    models = catalog.orpheus_models()
    for key in settings.orpheus_model_paths:
        if key == DEFAULT_ORPHEUS_MODEL or key not in models:
            others = [*catalog.orpheus_finetunes, *catalog.orpheus_pretrained]
            raise ConfigError(
                f"ORPHEUS_MODEL_PATHS names {key!r}, which is not a language fine-tune or pretrained model of "
                f"models.yaml ({', '.join(others) or 'none'}); the default model's file is ORPHEUS_MODEL_PATH",
                param="orpheus_model_paths",
            )
    wanted: dict[str, str | None] = {}
    for entry in settings.orpheus_models:
        name, _, given = entry.partition(":")
        key = _catalog_key(name.strip(), models)
        wanted[key] = given.strip() or wanted.get(key)
    overall = quant or settings.orpheus_quant
    if overall is not None and not any(overall in models[key].quants for key in wanted):
        models[next(iter(wanted))].quant(overall, role="orpheus")  # raises, listing the valid names
    choices = []
    for key, asked in wanted.items():
        spec = models[key]
        if asked is not None:
            spec.quant(asked, role="orpheus")  # an unknown name is refused, listing the valid ones
            chosen = asked
        elif overall is not None and overall in spec.quants:
            chosen = overall
        else:
            if overall is not None:
                logger.info("%s: no %s file in models.yaml, using %s", spec.name, overall, spec.default_quant)
            chosen = spec.default_quant
        quant_file = spec.quants[chosen]
        if key == DEFAULT_ORPHEUS_MODEL:
            override, env = settings.orpheus_model_path, "ORPHEUS_MODEL_PATH"
        else:
            override, env = settings.orpheus_model_paths.get(key), "ORPHEUS_MODEL_PATHS"
        if override is not None:
            label = chosen if override.name in (quant_file.file, quant_file.local_name) else "custom"
            choices.append(OrpheusChoice(key, spec, label, override, env, local=True))
        else:
            choices.append(OrpheusChoice(key, spec, chosen, settings.models_dir / quant_file.local_name, env))
    return choices


def default_orpheus(choices: list[OrpheusChoice]) -> OrpheusChoice:
    """The default model among the selected: English if selected, else the first with built-in
    voices (a cloning model has no voice to default to), else the first."""
    return next(
        (c for c in choices if c.key == DEFAULT_ORPHEUS_MODEL),
        next((c for c in choices if not c.spec.clones), choices[0]),
    )


def stt_variant(catalog: ModelCatalog, settings: Settings) -> tuple[str, SttVariant] | None:
    """The Whisper variant configured, or None when the catalog has no stt entry."""
    if catalog.stt is None:
        return None
    name = settings.stt_model or catalog.stt.default_variant
    return name, catalog.stt.variant(name)


def stt_dir(catalog: ModelCatalog, settings: Settings) -> Path:
    if settings.stt_model_path is not None:
        return settings.stt_model_path
    chosen = stt_variant(catalog, settings)
    if chosen is None:
        raise ModelNotFoundError(
            "models.yaml has no stt entry: add one (see the project's models.yaml) or set STT_MODEL_PATH",
            param="stt_model_path",
        )
    return settings.models_dir / chosen[1].repo.rsplit("/", 1)[-1]


def resolve_model_path(role: ModelRole, catalog: ModelCatalog, settings: Settings) -> tuple[Path, str]:
    """Path (and quantization label) of one model, raising ModelNotFoundError with the fix."""
    if role == "stt":
        path, env = stt_dir(catalog, settings), "STT_MODEL_PATH"
        chosen = stt_variant(catalog, settings)
        label = "custom" if settings.stt_model_path is not None or chosen is None else chosen[0]
        if not (path / "model.bin").is_file():
            raise ModelNotFoundError(
                f"stt model not found at {path} (no model.bin): download it with "
                f"`{DOWNLOAD_SCRIPT} --only stt` or set {env} to a local faster-whisper model directory",
                param=env.lower(),
            )
        return path, label
    if role == "snac":
        path, quant, env = snac_dir(catalog, settings), "fp32", "SNAC_MODEL_PATH"
        exists = path.is_dir()
        download = f"{DOWNLOAD_SCRIPT} --only snac"
    elif role == "orpheus":
        choice = default_orpheus(select_orpheus(catalog, settings))
        return choice.require_file(), choice.quant
    else:
        path, quant = _gguf_path(role, catalog.llm, settings)
        env = "LLM_MODEL_PATH"
        exists = path.is_file()
        download = f"{DOWNLOAD_SCRIPT} --only {role}" + ("" if quant == "custom" else f" --quant {quant}")
    if not exists:
        raise ModelNotFoundError(
            f"{role} model not found at {path}: download it with `{download}` or set {env} to a local copy",
            param=env.lower(),
        )
    return path, quant
