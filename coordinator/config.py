"""Configuration: the model catalog (models.yaml) and runtime settings (environment).

models.yaml says *what* can be run (repos, files, quantizations, voices, licenses); the environment
says *which* of it runs here and *how* (quantization choice, local paths, GPU layers, threads).
Both are parsed once into typed objects; everything downstream receives those objects.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from coordinator.engine.sampling import MAX_SEED, MIN_SEED
from coordinator.engine.weight_repack import WeightRepack
from coordinator.errors import ConfigError, ModelNotFoundError
from coordinator.orpheus.voices import check_aliases
from coordinator.text.sentences import DEFAULT_MAX_UTTERANCES, MAX_UTTERANCE_CHARS

logger = logging.getLogger(__name__)

DEFAULT_MODELS_CONFIG = Path("models.yaml")
# Where models.yaml lives in a source checkout, used when the working directory has none.
_SOURCE_TREE_MODELS_CONFIG = Path(__file__).resolve().parent.parent / "models.yaml"
DOWNLOAD_SCRIPT = "python scripts/download_models.py"
# Orpheus' control tokens and "voice: " around the text of an utterance.
PROMPT_OVERHEAD_TOKENS = 16

# Key of the catalog's `orpheus:` model (English): what ORPHEUS_MODELS loads by default.
DEFAULT_ORPHEUS_MODEL = "en"

ModelRole = Literal["orpheus", "llm", "snac", "stt"]
SnacCompileMode = Literal["off", "default", "reduce-overhead", "max-autotune"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["text", "json"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuantFile(_Strict):
    repo: str
    file: str
    size_gb: float = Field(gt=0)


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
    voices: list[str] = Field(min_length=1)
    default_voice: str
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
        if self.default_voice not in self.voices:
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
    llm: GGUFModelSpec
    snac: SnacSpec
    # Optional: a catalog without it serves speech out only.
    stt: SttSpec | None = None

    @model_validator(mode="after")
    def _keys_are_distinct(self) -> ModelCatalog:
        if DEFAULT_ORPHEUS_MODEL in self.orpheus_finetunes:
            raise ValueError(
                f"orpheus_finetunes may not use the key {DEFAULT_ORPHEUS_MODEL!r}: it is the orpheus model's"
            )
        names = [model_id(spec.name) for spec in self.orpheus_models().values()]
        if len(set(names)) != len(names):
            raise ValueError("two Orpheus models have the same name (their API ids would clash)")
        return self

    def orpheus_models(self) -> dict[str, OrpheusSpec]:
        """Every Orpheus model of the catalog by key, the default one first."""
        return {DEFAULT_ORPHEUS_MODEL: self.orpheus, **self.orpheus_finetunes}


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


# The words pydantic reads as booleans (CPU_WEIGHT_REPACK also takes "auto").
_TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})


def _empty_as_none(value: object) -> object:
    # `FOO=` in a .env file means "not set", not "the current directory".
    return None if value == "" else value


# A key travels in an Authorization header or, from a browser, inside a WebSocket subprotocol name,
# which must be an HTTP token (RFC 9110 tchar).
_API_KEY_CHARS = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def split_commas(value: str) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]``: the list syntax of API_KEY and CORS_ORIGINS."""
    return [item.strip() for item in value.split(",") if item.strip()]


class Settings(BaseSettings):
    """Runtime settings, read from the environment (and a .env file in the working directory)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    models_config: Path | None = Field(None, description="Path of models.yaml (MODELS_CONFIG).")
    models_dir: Path = Field(Path("models"), description="Where downloaded models live (MODELS_DIR).")
    orpheus_quant: str | None = Field(None, description="Orpheus quantization; default from models.yaml.")
    llm_quant: str | None = Field(None, description="Gemma quantization; default from models.yaml.")
    orpheus_models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [DEFAULT_ORPHEUS_MODEL],
        description="Orpheus models to load, comma-separated keys of models.yaml or language codes, "
        "each optionally with its quantization: en,fr,de:Q8_0 (ORPHEUS_MODELS). The first English "
        "one (else the first) is the default model.",
    )
    orpheus_model_path: Path | None = Field(
        None, description="A local .gguf file for the default Orpheus model (ORPHEUS_MODEL_PATH)."
    )
    orpheus_model_paths: Annotated[dict[str, Path], NoDecode] = Field(
        default_factory=dict,
        description="Local .gguf files for other Orpheus models: fr=/m/fr.gguf,de=/m/de.gguf "
        "(ORPHEUS_MODEL_PATHS).",
    )
    llm_model_path: Path | None = Field(None, description="A local chat-model .gguf file to use.")
    snac_model_path: Path | None = Field(
        None, description="A local SNAC directory with config.json and pytorch_model.bin."
    )
    n_gpu_layers: int = Field(-1, description="Layers offloaded to the GPU; -1 offloads all.")
    memory_budget_gb: float | None = Field(
        None,
        gt=0,
        description="Memory the models may take, in GB: the load plan (weights + KV cache of every "
        "model) must fit it. Default: the GPU's free memory when llama.cpp offloads to a GPU, else "
        "the host's available memory (MEMORY_BUDGET_GB).",
    )
    cpu_weight_repack: WeightRepack = Field(
        "auto",
        description="Let llama.cpp re-lay quantized weights kept on the CPU for its fastest kernels "
        "(AMX, AVX repack): auto (off where llama.cpp's AMX path would run, as it crashes on some "
        "CPUs; on elsewhere), 1 or 0 (CPU_WEIGHT_REPACK).",
    )
    snac_device: str = Field(
        "auto", description="Device for SNAC: auto (cuda when available, else cpu), cpu, cuda, cuda:N."
    )
    n_ctx: int = Field(4096, ge=256, description="Context length per sequence, in tokens (N_CTX).")
    n_threads: int | None = Field(
        None, ge=1, description="CPU threads for llama.cpp; default: the CPUs this process may use."
    )
    max_concurrent_streams: int = Field(
        8, ge=1, le=256, description="Sequences one model decodes together in a batch."
    )
    max_queue: int = Field(32, ge=0, description="Requests that may wait for a slot per model (MAX_QUEUE).")
    queue_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait for a slot before a 503 (QUEUE_TIMEOUT_S)."
    )
    snac_lookahead_frames: int = Field(
        3, ge=0, le=8, description="Frames of lookahead per SNAC window; 3 is exact, less is faster."
    )
    snac_batch_frames: int | None = Field(
        None,
        ge=1,
        description="Most frames one batched SNAC call decodes across streams; default: 8 on a CPU "
        "(measured: larger batches are slower there), 512 on a GPU (SNAC_BATCH_FRAMES).",
    )
    snac_compile: SnacCompileMode = Field(
        "off",
        description="torch.compile SNAC's decoder: off, default, reduce-overhead (CUDA graphs on a GPU) "
        "or max-autotune. Each window shape compiles once, on first use (SNAC_COMPILE).",
    )
    max_input_chars: int = Field(4096, ge=1, description="Longest text accepted for one request.")
    max_utterances: int = Field(
        DEFAULT_MAX_UTTERANCES,
        ge=1,
        description="Utterances one request's text may be spoken in: longer speech input is refused, a "
        "longer /chat reply is spoken only up to there (MAX_UTTERANCES).",
    )
    tts_max_tokens: int = Field(
        2000, ge=7, description="Default audio token limit per utterance (2000 ≈ 24 s) (TTS_MAX_TOKENS)."
    )
    tts_length_cap: bool = Field(
        True,
        description="Stop each utterance at what its text can plausibly need (a generous speaking-rate "
        "bound), so that a model that does not end cannot ramble on to TTS_MAX_TOKENS (TTS_LENGTH_CAP).",
    )
    auto_download: bool = Field(
        False, description="serve: download missing models in the background before loading (AUTO_DOWNLOAD)."
    )
    host: str = Field("127.0.0.1", description="Address the server binds to (HOST).")
    port: int = Field(8080, ge=1, le=65535, description="Port the server listens on (PORT).")
    log_level: LogLevel = Field("INFO", description="serve: lowest level logged (LOG_LEVEL).")
    log_format: LogFormat = Field(
        "text", description="serve: log lines as text or as one JSON object each (LOG_FORMAT)."
    )
    api_key: SecretStr | None = Field(
        None,
        description="Keys clients must send as `Authorization: Bearer <key>`, comma-separated (API_KEY); "
        "unset: no authentication, and serve only listens on loopback.",
    )
    allow_no_auth: bool = Field(
        False, description="serve: listen beyond loopback without API_KEY anyway (ALLOW_NO_AUTH)."
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body, and WebSocket message (MAX_BODY_BYTES)."
    )
    max_completion_tokens: int = Field(
        2048,
        ge=1,
        description="Largest max_tokens a request may ask for, per speech utterance too (MAX_COMPLETION_TOKENS).",
    )
    max_history_messages: int = Field(
        50, ge=0, description="Earlier messages a chat request may carry (MAX_HISTORY_MESSAGES)."
    )
    shutdown_grace_s: float = Field(
        25.0,
        ge=0,
        description="On SIGTERM, how long streams in flight may run on before they are cut "
        "(SHUTDOWN_GRACE_S); new requests are refused at once. Keep it below the orchestrator's "
        "stop timeout (docker compose's stop_grace_period).",
    )
    max_ws_sessions: int = Field(
        32, ge=1, description="Speech WebSocket sessions open at once; more are closed with 1013."
    )
    max_ws_sessions_per_client: int = Field(
        8,
        ge=1,
        description="Of those, how many one client address may hold at once; more are closed with 1013 "
        "(MAX_WS_SESSIONS_PER_CLIENT). Behind a proxy every client has the proxy's address: raise it to "
        "MAX_WS_SESSIONS, or let uvicorn take the client from X-Forwarded-For (FORWARDED_ALLOW_IPS).",
    )
    stt_model: str | None = Field(
        None, description="Whisper variant from models.yaml's stt entry (STT_MODEL)."
    )
    stt_model_path: Path | None = Field(
        None, description="A local faster-whisper (CTranslate2) model directory to use (STT_MODEL_PATH)."
    )
    stt_device: str = Field(
        "auto", description="Device for Whisper: auto (cuda when available, else cpu), cpu, cuda, cuda:N."
    )
    stt_compute_type: str | None = Field(
        None,
        description="CTranslate2 compute type (int8, int8_float16, float16, float32); default from "
        "models.yaml per device: int8 on a CPU, float16 on a GPU (STT_COMPUTE_TYPE).",
    )
    stt_slots: int = Field(
        1, ge=1, le=16, description="Transcriptions that run at once; more wait in the queue (STT_SLOTS)."
    )
    stt_beam_size: int = Field(
        1, ge=1, le=10, description="Whisper beam size; 1 is greedy, fastest (STT_BEAM_SIZE)."
    )
    stt_temperature_fallback: bool = Field(
        True,
        description="On temperature 0, retry a window that decodes badly at higher temperatures, as Whisper "
        "does; off: one pass, faster on a CPU (STT_TEMPERATURE_FALLBACK).",
    )
    max_upload_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1024,
        description="Largest request body of the routes that take audio: /v1/audio/transcriptions, "
        "/v1/audio/translations, /chat (MAX_UPLOAD_BYTES; OpenAI's limit is 25 MB).",
    )
    max_audio_seconds: float = Field(
        1800.0, gt=0, description="Longest audio one transcription may hold, in seconds (MAX_AUDIO_SECONDS)."
    )
    web_ui: bool = Field(
        True,
        description="Serve the browser page (speech playground, voice chat, status) at / (WEB_UI); 0 turns it off.",
    )
    wyoming_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="serve: also speak the Wyoming protocol (Home Assistant) on this TCP port, 10200 by "
        "convention (WYOMING_PORT); unset: off.",
    )
    wyoming_stt_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="serve: also transcribe over Wyoming (Home Assistant's speech-to-text) on this TCP "
        "port, 10300 by convention (WYOMING_STT_PORT); unset: off.",
    )
    wyoming_host: str | None = Field(
        None,
        description="Address the Wyoming port binds to; default: HOST. Wyoming has no authentication, so "
        "beyond loopback it needs ALLOW_NO_AUTH=1 (WYOMING_HOST).",
    )
    wyoming_seed: int | None = Field(
        None,
        ge=MIN_SEED,
        le=MAX_SEED,
        description="Sampling seed for Wyoming speech: the same text is spoken the same way each time "
        "(WYOMING_SEED); unset: a fresh draw each time, as on the HTTP API.",
    )
    wyoming_idle_timeout_s: float = Field(
        60.0,
        gt=0,
        description="A Wyoming connection that sends nothing this long while nothing is being spoken "
        "is closed (WYOMING_IDLE_TIMEOUT_S).",
    )
    wyoming_max_connections: int = Field(
        16,
        ge=1,
        description="Connections one Wyoming port holds at once; more are answered with an error event "
        "and closed (WYOMING_MAX_CONNECTIONS).",
    )
    wyoming_max_connections_per_client: int = Field(
        8,
        ge=1,
        description="Of those, how many one client address may hold at once (WYOMING_MAX_CONNECTIONS_PER_CLIENT); "
        "Home Assistant is one address for all its satellites.",
    )
    wyoming_zeroconf: bool = Field(
        False,
        description="Announce the Wyoming port over mDNS (_wyoming._tcp) so Home Assistant discovers it "
        "(WYOMING_ZEROCONF).",
    )
    wyoming_zeroconf_name: str | None = Field(
        None,
        description="Service name of the announcement; default: orpheus-<host name> (WYOMING_ZEROCONF_NAME).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API, comma-separated (CORS_ORIGINS); empty: CORS off.",
    )

    @field_validator(
        "models_config",
        "orpheus_model_path",
        "llm_model_path",
        "snac_model_path",
        "stt_model",
        "stt_model_path",
        "stt_compute_type",
        "orpheus_quant",
        "llm_quant",
        "n_threads",
        "snac_batch_frames",
        "api_key",
        "memory_budget_gb",
        "wyoming_port",
        "wyoming_stt_port",
        "wyoming_host",
        "wyoming_seed",
        "wyoming_zeroconf_name",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return _empty_as_none(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("cpu_weight_repack", mode="before")
    @classmethod
    def _auto_or_boolean(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if word == "auto":
            return word
        if word in _TRUE_WORDS | _FALSE_WORDS:
            return word in _TRUE_WORDS
        raise ValueError("must be auto, 1 or 0")

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_in_any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("api_key", mode="after")
    @classmethod
    def _keys_are_usable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        keys = split_commas(value.get_secret_value())
        if not keys:
            raise ValueError("holds no key: give one or more keys separated by commas, or leave it empty")
        if not all(_API_KEY_CHARS.fullmatch(key) for key in keys):
            raise ValueError(
                "a key holds characters an HTTP header or a WebSocket subprotocol cannot carry: use "
                "letters, digits and - _ . ~ (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @field_validator("orpheus_models", mode="before")
    @classmethod
    def _models_from_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return split_commas(value) or [DEFAULT_ORPHEUS_MODEL]  # blank: not set
        return value

    @field_validator("orpheus_model_paths", mode="before")
    @classmethod
    def _paths_from_pairs(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        paths = {}
        for pair in split_commas(value):
            key, sep, path = pair.partition("=")
            if not sep or not key.strip() or not path.strip():
                raise ValueError(f"{pair!r} is not key=path: write e.g. fr=/models/french.gguf")
            paths[key.strip()] = path.strip()
        return paths

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins_from_commas(cls, value: object) -> object:
        return split_commas(value) if isinstance(value, str) else value

    def api_keys(self) -> tuple[str, ...]:
        """The accepted keys; empty when authentication is off."""
        return tuple(split_commas(self.api_key.get_secret_value())) if self.api_key else ()

    @model_validator(mode="after")
    def _utterances_fit_the_context(self) -> Settings:
        # Long text is spoken in utterances of at most MAX_UTTERANCE_CHARS; each needs its prompt
        # plus TTS_MAX_TOKENS in one sequence's context, or speech would fail half way through.
        worst = self.tts_max_tokens + MAX_UTTERANCE_CHARS + PROMPT_OVERHEAD_TOKENS
        if worst > self.n_ctx:
            raise ValueError(
                f"TTS_MAX_TOKENS={self.tts_max_tokens} plus a {MAX_UTTERANCE_CHARS}-character utterance "
                f"needs {worst} tokens of context but N_CTX={self.n_ctx}: raise N_CTX or lower TTS_MAX_TOKENS"
            )
        return self

    def catalog_path(self) -> Path:
        if self.models_config is not None:
            return self.models_config
        if DEFAULT_MODELS_CONFIG.exists() or not _SOURCE_TREE_MODELS_CONFIG.exists():
            return DEFAULT_MODELS_CONFIG
        return _SOURCE_TREE_MODELS_CONFIG


# Never echoed in an error message (it would end up in logs and terminals).
_SECRET_SETTINGS = frozenset({"API_KEY"})


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; a malformed variable becomes one ConfigError line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a rule across several settings: its message names them
            raise ConfigError(str(first["msg"]).removeprefix("Value error, ")) from None
        name = str(first["loc"][0]).upper()
        shown = "<hidden>" if name in _SECRET_SETTINGS else repr(first.get("input"))
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid {name}={shown}: {message}") from None


def _gguf_path(role: Literal["orpheus", "llm"], spec: GGUFModelSpec, settings: Settings) -> tuple[Path, str]:
    override = settings.orpheus_model_path if role == "orpheus" else settings.llm_model_path
    chosen = (settings.orpheus_quant if role == "orpheus" else settings.llm_quant) or spec.default_quant
    quant_file = spec.quant(chosen, role=role)  # validates the name even when a path overrides it
    if override is not None:
        return override, chosen if override.name == quant_file.file else "custom"
    return settings.models_dir / quant_file.file, chosen


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
            raise ConfigError(
                f"ORPHEUS_MODEL_PATHS names {key!r}, which is not a language fine-tune of models.yaml "
                f"({', '.join(catalog.orpheus_finetunes) or 'none'}); the default model's file is ORPHEUS_MODEL_PATH",
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
            label = chosen if override.name == quant_file.file else "custom"
            choices.append(OrpheusChoice(key, spec, label, override, env, local=True))
        else:
            choices.append(OrpheusChoice(key, spec, chosen, settings.models_dir / quant_file.file, env))
    return choices


def default_orpheus(choices: list[OrpheusChoice]) -> OrpheusChoice:
    """The default model among the selected: English if selected, else the first."""
    return next((c for c in choices if c.key == DEFAULT_ORPHEUS_MODEL), choices[0])


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
