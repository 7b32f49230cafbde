"""Several tiny Orpheus-like models as language fine-tunes: a models.yaml (the shipped one, with
the voices replaced) and one tiny GGUF per fine-tune in MODELS_DIR under the catalog's file name,
each at its own custom-token offset, so they load through the real selection path."""

from __future__ import annotations

from pathlib import Path

import yaml

from coordinator.config.catalog import DEFAULT_ORPHEUS_MODEL, load_catalog
from tests.rig.tiny_gguf import build_orpheus_gguf

REPO = Path(__file__).resolve().parent.parent.parent
# Voices per model key; "max" is in two of them, on purpose (the ambiguity rules).
LANGUAGE_VOICES = {
    "en": ["tara", "leah", "max"],
    "fr": ["pierre", "amelie", "marie", "max"],
    "zh": ["长乐", "白芷"],
}
# Different offsets per model, as real fine-tunes could have: nothing may assume one.
CUSTOM_TOKEN_OFFSETS = {"fr": 1203, "zh": 2048}
OPENAI_ALIASES = {"alloy": "tara", "onyx": "max"}


def write_language_rig(directory: Path, voices: dict[str, list[str]] | None = None) -> Path:
    """Write the catalog and the fine-tunes' GGUFs into ``directory``; returns the catalog's path.
    The English model's file is not written: point ORPHEUS_MODEL_PATH at the rig's Orpheus."""
    voices = voices or LANGUAGE_VOICES
    raw = yaml.safe_load((REPO / "models.yaml").read_text(encoding="utf-8"))
    raw["orpheus"]["voices"] = voices[DEFAULT_ORPHEUS_MODEL]
    raw["orpheus"]["openai_voices"] = {
        alias: voice for alias, voice in OPENAI_ALIASES.items() if voice in voices[DEFAULT_ORPHEUS_MODEL]
    }
    for key, names in voices.items():
        if key != DEFAULT_ORPHEUS_MODEL:
            raw["orpheus_finetunes"][key] |= {"voices": names, "default_voice": names[0]}
    path = directory / "models.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    catalog = load_catalog(path)
    for key in voices:
        if key == DEFAULT_ORPHEUS_MODEL:
            continue
        spec = catalog.orpheus_finetunes[key]
        offset = CUSTOM_TOKEN_OFFSETS.get(key, 1000 + 100 * len(key))
        build_orpheus_gguf(
            directory / spec.quants[spec.default_quant].file,
            seed=offset,
            custom_token_offset=offset,
            words=tuple(voices[key]),
        )
    return path
