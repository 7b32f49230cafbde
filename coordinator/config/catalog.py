"""The model catalog: models.yaml parsed once into typed, frozen models.

models.yaml says *what* can be run (repos, files, quantizations, voices, languages, licenses); the
settings (coordinator.config.settings) say *which* of it runs here, and coordinator.config.selection
turns the two into files on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from coordinator.errors import ConfigError
from coordinator.orpheus.voices import check_aliases

DEFAULT_MODELS_CONFIG = Path("models.yaml")
# Where models.yaml lives in a source checkout, used when the working directory has none.
SOURCE_TREE_MODELS_CONFIG = Path(__file__).resolve().parents[2] / "models.yaml"
# The command that fetches the catalog's files: every "model not found" error names it.
DOWNLOAD_SCRIPT = "python scripts/download_models.py"

# Key of the catalog's `orpheus:` model (English): what ORPHEUS_MODELS loads by default.
DEFAULT_ORPHEUS_MODEL = "en"

ModelRole = Literal["orpheus", "llm", "snac", "stt"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuantFile(_Strict):
    repo: str
    file: str  # the file's name in the hub repo
    size_gb: float = Field(gt=0)
    save_as: str | None = Field(
        None,
        description="the file's name in MODELS_DIR, for a repo whose file name says nothing (model.q8_0.gguf)",
    )

    @property
    def local_name(self) -> str:
        """The file's name in MODELS_DIR."""
        return self.save_as or self.file


class _License(_Strict):
    name: str
    provider: str
    license: str
    license_url: str


class GGUFModelSpec(_License):
    default_quant: str
    quants: dict[str, QuantFile] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_is_offered(self) -> GGUFModelSpec:
        if self.default_quant not in self.quants:
            raise ValueError(
                f"default_quant {self.default_quant!r} is not one of the quants: {', '.join(self.quants)}"
            )
        return self

    def quant(self, name: str, *, role: ModelRole) -> QuantFile:
        """The file of quantization ``name``; the error lists the valid names."""
        try:
            return self.quants[name]
        except KeyError:
            env = "ORPHEUS_QUANT" if role == "orpheus" else "LLM_QUANT"
            raise ConfigError(
                f"unknown {role} quantization {name!r}: choose one of {', '.join(self.quants)} "
                f"(set {env} or default_quant in models.yaml)",
                param=env.lower(),
            ) from None


class OrpheusSpec(GGUFModelSpec):
    # A fine-tune speaks its built-in voices; a cloning model (the pretrained checkpoint) speaks
    # custom voices from their reference recordings, and may have no built-in voice at all.
    clones: bool = Field(False, description="speaks custom (cloned) voices from reference recordings")
    voices: list[str] = Field(default_factory=list)
    default_voice: str = Field(
        "", description="the voice a request without one gets; none for a cloning model"
    )
    languages: list[str] = Field(
        default_factory=lambda: [DEFAULT_ORPHEUS_MODEL],
        min_length=1,
        description="ISO 639-1 codes of what the model speaks (`language: xx` for one)",
    )
    voice_languages: dict[str, str] = Field(
        default_factory=dict, description="voice: language, for a model of several languages"
    )
    openai_voices: dict[str, str] = Field(
        default_factory=dict, description="OpenAI voice name: the voice of this model that speaks it."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_language(cls, data: object) -> object:
        # `language: fr` is the short form of `languages: [fr]`.
        if isinstance(data, dict) and "language" in data:
            if "languages" in data:
                raise ValueError("give language or languages, not both")
            data = {**data, "languages": [data["language"]]}
            del data["language"]
        return data

    @property
    def language(self) -> str:
        """The model's (first) language: what a voice speaks unless voice_languages says."""
        return self.languages[0]

    @model_validator(mode="after")
    def _default_voice_is_listed(self) -> OrpheusSpec:
        if not self.voices and not self.clones:
            raise ValueError("voices is empty: a model that does not clone (clones: true) needs its voices")
        if self.default_voice not in self.voices and (self.voices or self.default_voice):
            raise ValueError(f"default_voice {self.default_voice!r} is not in voices")
        check_aliases(self.openai_voices, self.voices)
        if len(set(self.voices)) != len(self.voices):
            raise ValueError("voices lists a voice twice")
        for voice, language in self.voice_languages.items():
            if voice not in self.voices:
                raise ValueError(f"voice_languages names {voice!r}, which is not in voices")
            if language not in self.languages:
                raise ValueError(f"voice_languages gives {voice!r} language {language!r}, not in languages")
        if len(self.languages) > 1 and set(self.voice_languages) != set(self.voices):
            raise ValueError("a model of several languages gives every voice its language in voice_languages")
        return self

    def language_of(self, voice: str) -> str:
        """The language ``voice`` speaks (the model's first, unless voice_languages says)."""
        return self.voice_languages.get(voice, self.languages[0])


class SnacSpec(_License):
    repo: str
    files: dict[str, float] = Field(min_length=1, description="file name: size in GB")


class SttVariant(_Strict):
    repo: str
    files: dict[str, float] = Field(min_length=1, description="file name: size in GB")
    multilingual: bool = True


class SttSpec(_License):
    """The speech recogniser: Whisper converted to CTranslate2 (faster-whisper's format). Its
    quantization is chosen when it loads (compute_type), not by file."""

    default_variant: str
    variants: dict[str, SttVariant] = Field(min_length=1)
    compute_type: dict[str, str] = Field(
        default_factory=lambda: {"cpu": "int8", "cuda": "float16"}, description="device type: compute type"
    )

    @model_validator(mode="after")
    def _default_is_offered(self) -> SttSpec:
        if self.default_variant not in self.variants:
            raise ValueError(
                f"default_variant {self.default_variant!r} is not one of the variants: {', '.join(self.variants)}"
            )
        return self

    def variant(self, name: str) -> SttVariant:
        try:
            return self.variants[name]
        except KeyError:
            raise ConfigError(
                f"unknown stt model {name!r}: choose one of {', '.join(self.variants)} "
                "(set STT_MODEL or default_variant in models.yaml)",
                param="stt_model",
            ) from None


class ModelCatalog(_Strict):
    orpheus: OrpheusSpec  # the default model (English), key DEFAULT_ORPHEUS_MODEL
    # More Orpheus models (language fine-tunes), by key; ORPHEUS_MODELS selects which load.
    orpheus_finetunes: dict[str, OrpheusSpec] = Field(default_factory=dict)
    # Pretrained checkpoints, by key: the cloning models that speak custom voices (clones: true).
    orpheus_pretrained: dict[str, OrpheusSpec] = Field(default_factory=dict)
    llm: GGUFModelSpec
    snac: SnacSpec
    # Optional: a catalog without it serves speech out only.
    stt: SttSpec | None = None

    @model_validator(mode="after")
    def _keys_are_distinct(self) -> ModelCatalog:
        for section, models in (
            ("orpheus_finetunes", self.orpheus_finetunes),
            ("orpheus_pretrained", self.orpheus_pretrained),
        ):
            if DEFAULT_ORPHEUS_MODEL in models:
                raise ValueError(
                    f"{section} may not use the key {DEFAULT_ORPHEUS_MODEL!r}: it is the orpheus model's"
                )
        shared = set(self.orpheus_finetunes) & set(self.orpheus_pretrained)
        if shared:
            raise ValueError(
                f"orpheus_finetunes and orpheus_pretrained both use the key {sorted(shared)[0]!r}"
            )
        for key, spec in self.orpheus_pretrained.items():
            if not spec.clones:
                raise ValueError(
                    f"orpheus_pretrained.{key}: a pretrained entry is a cloning model: set clones: true"
                )
        if self.orpheus.clones:
            raise ValueError(
                "orpheus (the default model) must have built-in voices: put a cloning model in orpheus_pretrained"
            )
        names = [model_id(spec.name) for spec in self.orpheus_models().values()]
        if len(set(names)) != len(names):
            raise ValueError("two Orpheus models have the same name (their API ids would clash)")
        return self

    def orpheus_models(self) -> dict[str, OrpheusSpec]:
        """Every Orpheus model of the catalog by key, the default one first, the cloning models last."""
        return {DEFAULT_ORPHEUS_MODEL: self.orpheus, **self.orpheus_finetunes, **self.orpheus_pretrained}

    def cloning_keys(self) -> list[str]:
        """Keys of the catalog's cloning models (what ORPHEUS_MODELS adds to speak custom voices)."""
        return [key for key, spec in self.orpheus_models().items() if spec.clones]


def model_id(name: str) -> str:
    """API id of a catalog model: 'Gemma 2 2B Instruct' → 'gemma-2-2b-instruct'."""
    return "-".join(name.lower().split())


def load_catalog(path: Path) -> ModelCatalog:
    """Parse models.yaml; any problem becomes one ConfigError naming the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"model catalog {path} not found: run from the project directory or set MODELS_CONFIG"
        ) from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read model catalog {path}: {exc}".splitlines()[0]) from None
    try:
        return ModelCatalog.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {where}: {first['msg']} (fix models.yaml)") from None
