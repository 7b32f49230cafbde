"""Runtime settings: which of the catalog runs here and how, read from the environment (and .env).

Every setting is one field of `Settings`, and its description is the one text that says what it
does: docs/configuration.md's tables, .env.example and the CLI's flags are rendered from it by
coordinator.config.reference, and tests fail when they drift.

Over 400 lines on purpose: the Settings class is one field per environment variable (about 60),
each with its bounds and the description the documentation is generated from; splitting it would
split the one place a setting is declared.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from coordinator.config.catalog import DEFAULT_MODELS_CONFIG, DEFAULT_ORPHEUS_MODEL, SOURCE_TREE_MODELS_CONFIG
from coordinator.engine.sampling import MAX_SEED, MIN_SEED
from coordinator.engine.weight_repack import WeightRepack
from coordinator.errors import ConfigError
from coordinator.text.sentences import DEFAULT_MAX_UTTERANCES, MAX_UTTERANCE_CHARS

# Orpheus' control tokens and "voice: " around the text of an utterance.
PROMPT_OVERHEAD_TOKENS = 16

SnacCompileMode = Literal["off", "default", "reduce-overhead", "max-autotune"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["text", "json"]

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

    models_config: Path | None = Field(
        None,
        description="The model catalog, models.yaml. Unset: ./models.yaml when the working directory "
        "has one, else the copy in the source tree (or the image).",
    )
    models_dir: Path = Field(
        Path("models"),
        description="Where downloads go and models are looked up (the compose file mounts the `models` "
        "volume at /models and points this there).",
    )
    orpheus_quant: str | None = Field(
        None,
        description="Orpheus quantization: Q8_0 (≈ 4.0 GB), Q4_K_M (≈ 2.4 GB) or Q2_K (≈ 1.6 GB, glitches "
        "more). Applies to every model of ORPHEUS_MODELS that offers it (the language fine-tunes come in "
        "Q8_0 only and keep it). Unset: default_quant of models.yaml (Q8_0). An unknown one is refused, "
        "listing the valid ones.",
    )
    llm_quant: str | None = Field(
        None,
        description="Gemma 2 2B Instruct quantization: Q8_0 (≈ 2.8 GB) or Q4_K_M (≈ 1.7 GB). Unset: "
        "default_quant of models.yaml (Q8_0). An unknown one is refused, listing the valid ones.",
    )
    orpheus_models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [DEFAULT_ORPHEUS_MODEL],
        description="Orpheus models to load, each on its own engine: comma-separated keys or languages "
        "of models.yaml (en, fr, de, ko, hi, zh, es-it: es or it; pretrained: the cloning model "
        "that speaks custom voices), each optionally with its quantization, e.g. en,fr,de:Q8_0. A "
        "voice picks its model. The first English one (else the first with built-in voices) is the "
        "default model. Each takes ≈ 3.5 GB of weights plus its KV cache "
        "(N_CTX × MAX_CONCURRENT_STREAMS; the pretrained model's context per stream also holds "
        "VOICE_REFERENCE_MAX_S of reference); see MEMORY_BUDGET_GB.",
    )
    orpheus_model_path: Path | None = Field(
        None, description="A local .gguf file for the default Orpheus model, instead of the catalog's."
    )
    orpheus_model_paths: Annotated[dict[str, Path], NoDecode] = Field(
        default_factory=dict,
        description="Local .gguf files for the language fine-tunes and the pretrained model, instead "
        "of the catalog's: fr=/models/french.gguf,pretrained=/models/orpheus-pt.gguf.",
    )
    llm_model_path: Path | None = Field(
        None, description="A local chat-model .gguf file, instead of the catalog's."
    )
    snac_model_path: Path | None = Field(
        None,
        description="A local SNAC directory with config.json and pytorch_model.bin; unset: "
        "MODELS_DIR/snac_24khz (the catalog's).",
    )
    n_gpu_layers: int = Field(
        -1,
        description="Layers offloaded to the GPU: -1 all (needs a CUDA build of llama-cpp-python), "
        "0 CPU only.",
    )
    memory_budget_gb: float | None = Field(
        None,
        gt=0,
        description="Memory the models may take, in GB: the load plan (weights + KV cache of every "
        "model) must fit it, or the start is refused. Unset: the GPU's free memory when llama.cpp "
        "offloads to a GPU, else the host's available memory.",
    )
    cpu_weight_repack: WeightRepack = Field(
        "auto",
        description="Let llama.cpp re-lay quantized weights kept on the CPU for its fastest kernels "
        "(AMX, AVX repack): auto is off where llama.cpp is built with AMX and the CPU has it (its AMX "
        "path segfaulted every Q8_0/Q4_K_M decode on this project's VMs) and on elsewhere; 1 on, 0 off.",
    )
    snac_device: str = Field(
        "auto",
        description="Device for SNAC: auto (cuda when torch sees a GPU, else cpu), cpu, cuda, cuda:N.",
    )
    n_ctx: int = Field(
        4096,
        ge=256,
        description="Context per sequence, in tokens (prompt + max_tokens must fit). KV cache reserved: "
        "N_CTX × MAX_CONCURRENT_STREAMS tokens per model.",
    )
    n_threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads for llama.cpp; unset: the CPUs this process may use (llama.cpp's own "
        "default, a fixed 4, oversubscribes small hosts).",
    )
    max_concurrent_streams: int = Field(
        8,
        ge=1,
        le=256,
        description="Sequences one model decodes together per step (`synth` uses 1).",
    )
    max_queue: int = Field(
        32,
        ge=0,
        description="Requests that may wait for a free slot per model; beyond that a request gets 429 "
        "with Retry-After at once.",
    )
    queue_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Longest wait for a slot, in seconds; a request that waited longer gets 503 with "
        "Retry-After.",
    )
    snac_lookahead_frames: int = Field(
        3,
        ge=0,
        le=8,
        description="Frames of lookahead per SNAC window: 3 is exact; each frame less lowers "
        "first-audio latency by 85 ms.",
    )
    snac_batch_frames: int | None = Field(
        None,
        ge=1,
        description="Most frames one batched SNAC call decodes across streams; unset: 8 on a CPU "
        "(measured: larger batches are slower there), 512 on a GPU.",
    )
    snac_compile: SnacCompileMode = Field(
        "off",
        description="torch.compile SNAC's decoder: off, default, reduce-overhead (CUDA graphs on a GPU) "
        "or max-autotune. Each window shape compiles once, on first use (tens of seconds each on a "
        "CPU): meant for GPU hosts.",
    )
    max_input_chars: int = Field(
        4096,
        ge=1,
        description="Longest text: speech input (never over 4096, OpenAI's limit), /tts prompt, "
        "WebSocket text, /chat message and each of its history, each chat-completion message, a "
        "completion prompt; more: 400.",
    )
    max_utterances: int = Field(
        DEFAULT_MAX_UTTERANCES,
        ge=1,
        description=f"Utterances (of at most {MAX_UTTERANCE_CHARS} characters) one request's text may be "
        "spoken in: longer speech input is a 400, a /chat reply is spoken that far, then cut short.",
    )
    tts_max_tokens: int = Field(
        2000,
        ge=7,
        description=f"Default audio token limit per utterance (2000 ≈ 24 s); with a {MAX_UTTERANCE_CHARS}-character "
        "utterance it must fit N_CTX (checked at start).",
    )
    tts_length_cap: bool = Field(
        True,
        description="Stop each utterance at what its text can plausibly need (2.5× an ordinary reading "
        "pace, plus 2 s), never above TTS_MAX_TOKENS, so that a model that does not end cannot ramble "
        "on to TTS_MAX_TOKENS; 0: only the token limits.",
    )
    auto_download: bool = Field(
        False,
        description="serve: download missing models in the background before loading (1), or refuse to "
        "start without them (0). docker compose turns it on unless this is set.",
    )
    host: str = Field(
        "127.0.0.1",
        description="Address the server binds to (the images use 0.0.0.0, which needs API_KEY or "
        "ALLOW_NO_AUTH=1).",
    )
    port: int = Field(8080, ge=1, le=65535, description="Port the server listens on.")
    log_level: LogLevel = Field(
        "INFO",
        description="Lowest level serve logs: DEBUG, INFO, WARNING, ERROR, CRITICAL, in any case; INFO "
        "gives one access line per request.",
    )
    log_format: LogFormat = Field(
        "text",
        description="serve's log lines: text, or json: one JSON object per line with the request id and "
        "the structured fields.",
    )
    api_key: SecretStr | None = Field(
        None,
        description="Keys clients must send as `Authorization: Bearer <key>` on every endpoint but "
        "/health, comma-separated (one per client lets you revoke one); letters, digits and - _ . ~ "
        'only; make one with: python -c "import secrets; print(secrets.token_urlsafe(32))". Unset: no '
        "authentication, and serve listens on loopback only. The images listen on 0.0.0.0, so with "
        "Docker set API_KEY, or ALLOW_NO_AUTH=1; otherwise the server refuses to start and says so in "
        "`docker compose logs`.",
    )
    allow_no_auth: bool = Field(
        False,
        description="1: let serve listen beyond loopback without API_KEY, serving anyone who reaches the "
        "port (e.g. behind a proxy that authenticates).",
    )
    max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body, counted as it arrives (chunked uploads too), and largest "
        "WebSocket message, in bytes; more: 413. 1 MiB holds any valid request of the default limits "
        "many times over.",
    )
    max_completion_tokens: int = Field(
        2048,
        ge=1,
        description="Largest max_tokens (or max_completion_tokens) a chat, completion or /chat request "
        "may ask for, and a speech request (/v1/audio/speech, /tts) per utterance; more: 400 naming the "
        "cap (requests without one get their default, lowered to the cap). With TTS_LENGTH_CAP on, "
        "speech still stops at TTS_MAX_TOKENS and at its text's length cap.",
    )
    max_history_messages: int = Field(
        50,
        ge=0,
        description="Earlier messages one chat request may carry (/chat history, chat-completion "
        "messages before the last); more: 400.",
    )
    shutdown_grace_s: float = Field(
        25.0,
        ge=0,
        description="On SIGTERM, seconds the requests in flight may run on before they are cut; new ones "
        "get 503 shutting_down at once. Keep it below the orchestrator's stop timeout (compose: "
        "stop_grace_period: 40s; docker stop -t 40; the Helm chart derives it from "
        "shutdownGraceSeconds).",
    )
    max_ws_sessions: int = Field(
        32,
        ge=1,
        description="Speech WebSocket sessions open at once; more are closed at once with 1013 (try "
        "again later).",
    )
    max_ws_sessions_per_client: int = Field(
        8,
        ge=1,
        description="Of those, how many one client address may hold, so one client cannot lock everyone "
        "out (the default, a quarter of MAX_WS_SESSIONS, always lets at least four clients in); more: "
        "1013. Behind a proxy every client has the proxy's address: uvicorn takes the client from "
        "X-Forwarded-For when the proxy's address is in FORWARDED_ALLOW_IPS (default 127.0.0.1,::1); otherwise raise this to "
        "MAX_WS_SESSIONS.",
    )
    stt_model: str | None = Field(
        None,
        description="Whisper variant from models.yaml's stt entry: small, small.en, base, large-v3 "
        "(≈ 3.1 GB); unset: its default_variant (small, ≈ 0.48 GB).",
    )
    stt_model_path: Path | None = Field(
        None, description="A local faster-whisper (CTranslate2) model directory, instead of the catalog's."
    )
    stt_device: str = Field(
        "auto",
        description="Device for Whisper: auto (cuda when CTranslate2 sees a GPU, else cpu), cpu, cuda, "
        "cuda:N.",
    )
    stt_compute_type: str | None = Field(
        None,
        description="CTranslate2 compute type (int8, int8_float16, float16, float32); unset: from "
        "models.yaml per device: int8 on a CPU, float16 on a GPU.",
    )
    stt_slots: int = Field(
        1,
        ge=1,
        le=16,
        description="Transcriptions that run at once; more wait in the queue (MAX_QUEUE, for at most "
        "QUEUE_TIMEOUT_S).",
    )
    stt_beam_size: int = Field(1, ge=1, le=10, description="Whisper beam size; 1 is greedy, fastest.")
    stt_temperature_fallback: bool = Field(
        True,
        description="At temperature 0, re-decode a 30 s window that decodes badly at higher "
        "temperatures, as Whisper does; 0: one pass, faster on a CPU.",
    )
    max_upload_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1024,
        description="Largest request body of the routes that take audio: /v1/audio/transcriptions, "
        "/v1/audio/translations, /chat (OpenAI's limit is 25 MB).",
    )
    max_audio_seconds: float = Field(
        1800.0, gt=0, description="Longest audio one transcription may hold, in seconds."
    )
    web_ui: bool = Field(
        True,
        description="Serve the browser page (speech playground, voice chat, status) at /; 0: no page "
        "(/ is a 404).",
    )
    wyoming_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="serve: also speak the Wyoming protocol (Home Assistant) on this TCP port, 10200 by "
        "convention; unset: off. With Docker, add docker-compose.wyoming.yml, which sets it and "
        "publishes the port.",
    )
    wyoming_stt_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="serve: also transcribe over Wyoming (Home Assistant's speech-to-text) on this TCP "
        "port, 10300 by convention; unset: off. Needs the speech recogniser (STT_*).",
    )
    wyoming_host: str | None = Field(
        None,
        description="Address the Wyoming ports bind to; unset: HOST. Wyoming has no authentication "
        "(API_KEY does not cover it), so beyond loopback it needs ALLOW_NO_AUTH=1: serve it on a "
        "network you trust.",
    )
    wyoming_seed: int | None = Field(
        None,
        ge=MIN_SEED,
        le=MAX_SEED,
        description="Sampling seed for Wyoming speech: the same text is spoken the same way each time; "
        "unset: a fresh draw each time, as on the HTTP API.",
    )
    wyoming_idle_timeout_s: float = Field(
        60.0,
        gt=0,
        description="A Wyoming connection that sends nothing this long (seconds) while nothing is being "
        "spoken is closed.",
    )
    wyoming_max_connections: int = Field(
        16,
        ge=1,
        description="Connections one Wyoming port holds at once; more are answered with an error event "
        "and closed.",
    )
    wyoming_max_connections_per_client: int = Field(
        8,
        ge=1,
        description="Of those, how many one client address may hold at once (Home Assistant is one "
        "address for all its satellites).",
    )
    wyoming_zeroconf: bool = Field(
        False,
        description="Announce the Wyoming port over mDNS (_wyoming._tcp) so Home Assistant discovers it "
        "and offers to add it. Multicast does not leave Docker's default bridge network: with Docker "
        "this needs `network_mode: host`.",
    )
    wyoming_zeroconf_name: str | None = Field(
        None, description="Service name of the announcement; unset: orpheus-<host name>."
    )
    voices_dir: Path = Field(
        Path("voices"),
        description="Where custom (cloned) voices are kept, one folder each: keep it on a volume, so "
        "they survive restarts and upgrades.",
    )
    voice_max_count: int = Field(100, ge=1, le=10_000, description="Most custom voices the server keeps.")
    voice_max_samples: int = Field(
        5, ge=1, le=20, description="Most recordings (samples) one custom voice is made of."
    )
    voice_sample_min_s: float = Field(
        3.0, gt=0, description="Shortest recording a custom voice accepts, in seconds of speech."
    )
    voice_sample_max_s: float = Field(
        30.0, gt=0, description="Longest recording a custom voice accepts, in seconds after trimming silence."
    )
    voice_reference_max_s: float = Field(
        30.0,
        gt=0,
        description="Most reference audio one custom voice puts in the cloning model's prompt, all its "
        "samples together, in seconds. It sizes the cloning model's context: each second is about 82 "
        "prompt tokens.",
    )
    voice_consent_phrase: str | None = Field(
        None,
        description="When set, creating a voice also needs a consent recording in which the speaker says "
        "this phrase (checked by the server's Whisper); unset: no consent recording is asked for.",
    )
    normalize_text: bool = Field(
        True,
        description="Read numbers, money, dates, units, symbols and markdown the way a person would "
        "before speaking; 0: the text goes to Orpheus as written (a request's normalize: false does the "
        "same for one request).",
    )
    speech_timings: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Listen to every generated utterance with Whisper and time each word of the "
        "original text in the returned audio (for captions and read-along); auto: on when Whisper runs "
        "on a GPU, off on a CPU, where listening takes threads from speaking (measured in "
        "docs/timings.md). A request may ask for them (timings: true) wherever Whisper is installed.",
    )
    speech_check: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Check every generated utterance by ear: Whisper's transcript against its text "
        "(word error; words missing, repeated or added), counted in the metrics and logged when it "
        "fails; auto: as SPEECH_TIMINGS decides. A request may ask for it (check: true).",
    )
    speech_retakes: int = Field(
        2,
        ge=0,
        le=5,
        description="When a checked utterance fails, generate it again with another seed at most this "
        "many times and keep the better take: always for answers that are not streamed, for streamed "
        "ones only on request (retakes: N), as a retake delays the audio after it.",
    )
    speech_check_max_word_error: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="A check fails above this word error rate (changed, missing, repeated and added "
        "words over the utterance's words), and also whenever a word is missing, repeated or added.",
    )
    listen_slots: int = Field(
        1,
        ge=1,
        le=16,
        description="Utterances Whisper listens to at once, on slots of their own beside STT_SLOTS, so "
        "that checking speech never holds up /v1/audio/transcriptions.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (CORS), comma-separated, e.g. "
        "https://app.example.com; unset: CORS off (pages on other origins cannot read responses; curl "
        "and SDKs are unaffected).",
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
        "voice_consent_phrase",
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
        if DEFAULT_MODELS_CONFIG.exists() or not SOURCE_TREE_MODELS_CONFIG.exists():
            return DEFAULT_MODELS_CONFIG
        return SOURCE_TREE_MODELS_CONFIG


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
