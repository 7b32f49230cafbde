"""The settings' reference, rendered from their own field descriptions so that it cannot drift.

`Settings` (coordinator.config.settings) is the one place a setting is declared and described.
From it this module renders docs/configuration.md's settings tables (between two markers),
.env.example, and the help of every CLI flag that sets a setting; tests compare the files with
what this renders and name the command that rewrites them:

    python -m coordinator.config.reference          # rewrite both files, from the repository root
    python -m coordinator.config.reference --check  # exit 1, naming the stale file, if one differs

What is not a field lives here: the order and titles of the sections, links into the docs, and the
few variables that docker compose or the hub client read but the server does not.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic.fields import FieldInfo

from coordinator.config.catalog import DOWNLOAD_SCRIPT
from coordinator.config.settings import Settings

logger = logging.getLogger(__name__)

DOCS_PAGE = Path("docs/configuration.md")
ENV_EXAMPLE = Path(".env.example")
COMMAND = "python -m coordinator.config.reference"
TABLE_BEGIN = f"<!-- settings tables: generated from coordinator/config/settings.py by `{COMMAND}` -->"
TABLE_END = "<!-- end of the generated settings tables -->"
COMMENT_WIDTH = 99  # .env.example's comment lines, "# " included
UNSET = "—"  # the docs' default column for a setting that is unset by default


@dataclass(frozen=True)
class Extra:
    """A variable that is not a setting of the server (docker compose's, the hub client's)."""

    value: str
    description: str


@dataclass(frozen=True)
class Section:
    title: str
    # Setting names (lower case: fields of Settings) and extras (upper case: keys of EXTRAS), in order.
    names: tuple[str, ...]
    intro: str = ""


EXTRAS = {
    "HF_TOKEN": Extra(
        "",
        "Hub token for gated repos, read by the downloads. Gemma is gated: accept its terms on the hub "
        "while logged in first.",
    ),
    "CPU_MAX_CONCURRENT_STREAMS": Extra(
        "2",
        "docker compose only: MAX_CONCURRENT_STREAMS for compose's CPU service (`--profile cpu`), which "
        "ignores MAX_CONCURRENT_STREAMS.",
    ),
    "HOST_PORTS": Extra(
        "8080",
        "docker compose only: host port(s) published; a range such as 8080-8083 for --scale replicas.",
    ),
    "WYOMING_HOST_PORT": Extra(
        "10200", "docker-compose.wyoming.yml only: the host port published for Wyoming speech."
    ),
    "WYOMING_STT_HOST_PORT": Extra(
        "10300", "docker-compose.wyoming.yml only: the host port published for Wyoming transcription."
    ),
}

SECTIONS = (
    Section(
        "Models and files",
        (
            "orpheus_models",
            "orpheus_quant",
            "llm_quant",
            "HF_TOKEN",
            "auto_download",
            "models_dir",
            "models_config",
            "orpheus_model_path",
            "orpheus_model_paths",
            "llm_model_path",
            "snac_model_path",
        ),
    ),
    Section(
        "Hardware",
        ("n_gpu_layers", "snac_device", "memory_budget_gb", "n_threads", "cpu_weight_repack"),
    ),
    Section(
        "Capacity and latency",
        (
            "n_ctx",
            "max_concurrent_streams",
            "CPU_MAX_CONCURRENT_STREAMS",
            "max_queue",
            "queue_timeout_s",
            "tts_max_tokens",
            "tts_length_cap",
            "snac_lookahead_frames",
            "snac_batch_frames",
            "snac_compile",
        ),
    ),
    Section("Security", ("api_key", "allow_no_auth", "cors_origins")),
    Section(
        "Request limits",
        (
            "max_body_bytes",
            "max_input_chars",
            "max_completion_tokens",
            "max_utterances",
            "max_history_messages",
            "max_ws_sessions",
            "max_ws_sessions_per_client",
            "shutdown_grace_s",
        ),
    ),
    Section("Network", ("host", "port", "HOST_PORTS", "web_ui")),
    Section(
        "Home Assistant (Wyoming)",
        (
            "wyoming_port",
            "wyoming_stt_port",
            "wyoming_host",
            "WYOMING_HOST_PORT",
            "WYOMING_STT_HOST_PORT",
            "wyoming_seed",
            "wyoming_idle_timeout_s",
            "wyoming_max_connections",
            "wyoming_max_connections_per_client",
            "wyoming_zeroconf",
            "wyoming_zeroconf_name",
        ),
    ),
    Section(
        "Custom voices (cloning)",
        (
            "voices_dir",
            "voice_max_count",
            "voice_max_samples",
            "voice_sample_min_s",
            "voice_sample_max_s",
            "voice_reference_max_s",
            "voice_consent_phrase",
        ),
    ),
    Section("Text", ("normalize_text",)),
    Section(
        "Listening to speech (word timings and checks)",
        ("speech_timings", "speech_check", "speech_retakes", "speech_check_max_word_error", "listen_slots"),
        intro="Whisper (below) listens to what Orpheus said: word timings for captions, and each "
        "utterance checked against its text. Without Whisper installed, neither is offered.",
    ),
    Section("Logs", ("log_level", "log_format")),
    Section(
        "Speech in (Whisper on faster-whisper)",
        (
            "stt_model",
            "stt_model_path",
            "stt_device",
            "stt_compute_type",
            "stt_slots",
            "stt_beam_size",
            "stt_temperature_fallback",
            "max_upload_bytes",
            "max_audio_seconds",
        ),
        intro="Optional: without the model the server still speaks; /v1/audio/transcriptions and spoken "
        f"turns answer 503 naming `{DOWNLOAD_SCRIPT} --only stt`.",
    ),
)

# Where the docs say more (repository paths; the docs page links them relative to itself).
SEE_ALSO = {
    "orpheus_models": ("Many languages", "docs/languages.md#many-languages-from-one-server"),
    "cpu_weight_repack": ("why, and what it costs", "coordinator/engine/weight_repack.py"),
    "tts_length_cap": ("Speak over HTTP", "docs/speech.md#speak-over-http-openai-compatible"),
    "max_ws_sessions_per_client": ("Security", "docs/security.md#security"),
    "web_ui": ("Try it in the browser", "docs/browser.md#try-it-in-the-browser"),
    "wyoming_port": ("Wyoming", "docs/wyoming.md"),
    "voices_dir": ("Where voices are kept", "docs/voices.md#where-voices-are-kept"),
    "voice_sample_max_s": ("How a recording is prepared", "docs/voices.md#how-a-recording-is-prepared"),
    "voice_consent_phrase": ("Consent", "docs/voices.md#consent"),
    "speech_timings": ("Word timings and checks", "docs/timings.md"),
}

# .env.example's value where it differs from the default, and why.
EXAMPLE_VALUES = {
    "auto_download": "1",  # what docker compose does anyway: the quick start downloads on first run
}

ENV_HEADER = f"""\
# Copy to .env and edit. Read by `docker compose` and by `python -m coordinator ...` in this
# directory. Every variable the server reads is listed here, with its default; an empty value
# means unset. Generated from the settings' descriptions (coordinator/config/settings.py) by
# `{COMMAND}`: edit those and run it, not this file.
"""


def env_name(name: str) -> str:
    return name.upper()


def env_value(value: object) -> str:
    """A value as the environment spells it: 1/0, comma lists, key=value pairs, '' for unset."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, list | tuple):
        return ",".join(env_value(item) for item in value)
    if isinstance(value, dict):
        return ",".join(f"{key}={env_value(item)}" for key, item in value.items())
    return str(value)


def _field(name: str) -> FieldInfo:
    return Settings.model_fields[name]


def default_value(name: str) -> str:
    """The setting's default, as the environment spells it ('' when unset by default)."""
    return env_value(_field(name).get_default(call_default_factory=True))


def description(name: str) -> str:
    text = _field(name).description
    if not text:
        raise ValueError(f"setting {name} has no description: give its Field one")
    return text


def _check_sections() -> None:
    listed = [name for section in SECTIONS for name in section.names]
    settings = [name for name in listed if name.islower()]
    missing = set(Settings.model_fields) - set(settings)
    unknown = {name for name in settings if name not in Settings.model_fields} | {
        name for name in listed if name.isupper() and name not in EXTRAS
    }
    twice = {name for name in listed if listed.count(name) > 1}
    if missing or unknown or twice:
        raise ValueError(
            f"coordinator/config/reference.py SECTIONS: missing {sorted(missing)}, unknown "
            f"{sorted(unknown)}, listed twice {sorted(twice)}: list every setting once"
        )


def _row(name: str) -> tuple[str, str, str]:
    """(variable, default, meaning) of a setting or an extra."""
    if name.isupper():
        extra = EXTRAS[name]
        return name, extra.value, extra.description
    return env_name(name), default_value(name), description(name)


def _markdown_link(title: str, target: str) -> str:
    path, _, anchor = target.partition("#")
    relative = os.path.relpath(path, DOCS_PAGE.parent).replace(os.sep, "/")
    return f"[{title}]({relative}{'#' + anchor if anchor else ''})"


def _table_text(text: str) -> str:
    """Text safe in a Markdown table cell: no bare pipe, and no <word> read as an HTML tag."""
    spans = text.replace("|", "\\|").split("`")
    # Even pieces are outside code spans, where Markdown would read <key> as a tag and drop it.
    return "`".join(
        piece.replace("<", "&lt;").replace(">", "&gt;") if index % 2 == 0 else piece
        for index, piece in enumerate(spans)
    )


def settings_tables() -> str:
    """The docs page's tables, one per section, markers included."""
    _check_sections()
    parts = [TABLE_BEGIN]
    for section in SECTIONS:
        parts += ["", f"### {section.title}", ""]
        if section.intro:
            parts += [section.intro, ""]
        parts += ["| variable | default | meaning |", "|---|---|---|"]
        for name in section.names:
            variable, default, meaning = _row(name)
            if name in SEE_ALSO:
                meaning += f" See {_markdown_link(*SEE_ALSO[name])}."
            shown = f"`{default}`" if default else UNSET
            parts.append(f"| `{variable}` | {shown} | {_table_text(meaning)} |")
    parts += ["", TABLE_END]
    return "\n".join(parts)


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, COMMENT_WIDTH - 2, initial_indent="# ", subsequent_indent="# ",
                         break_on_hyphens=False, break_long_words=False)  # fmt: skip


def env_example() -> str:
    """.env.example: every setting with its description and its default, by section."""
    _check_sections()
    lines = ENV_HEADER.splitlines()
    for section in SECTIONS:
        rule = f"# --- {section.title} "
        lines += ["", rule + "-" * (COMMENT_WIDTH - len(rule))]
        if section.intro:
            lines += _comment(section.intro)
        for name in section.names:
            variable, default, meaning = _row(name)
            if name in SEE_ALSO:
                meaning += f" See {SEE_ALSO[name][1].partition('#')[0]}."
            lines += _comment(meaning)
            lines.append(f"{variable}={EXAMPLE_VALUES.get(name, default)}")
    return "\n".join(lines) + "\n"


def flag_help(name: str, *, use: str = "") -> str:
    """Help of a CLI flag that sets setting ``name``: what the flag is for (``use``, where the
    setting's description alone would not say), the description, and where its default comes from."""
    default = default_value(name)
    fallback = f", else {default}" if default else ""
    text = f"{use + ' ' if use else ''}{description(name)} Default: {env_name(name)}{fallback}."
    return text.replace("%", "%%")  # argparse formats help with %


def replace_tables(page: str) -> str:
    """``page`` with the text between the markers replaced by the current tables."""
    begin, end = page.find(TABLE_BEGIN), page.find(TABLE_END)
    if begin < 0 or end < begin:
        raise ValueError(f"{DOCS_PAGE} lacks the markers {TABLE_BEGIN!r} … {TABLE_END!r}")
    return page[:begin] + settings_tables() + page[end + len(TABLE_END) :]


def stale_files(root: Path) -> list[Path]:
    """The generated files under ``root`` that differ from what the settings render."""
    docs = (root / DOCS_PAGE).read_text(encoding="utf-8")
    stale = [DOCS_PAGE] if replace_tables(docs) != docs else []
    if (root / ENV_EXAMPLE).read_text(encoding="utf-8") != env_example():
        stale.append(ENV_EXAMPLE)
    return stale


def write(root: Path) -> list[Path]:
    """Rewrite the stale files under ``root``; the ones rewritten."""
    stale = stale_files(root)
    for path in stale:
        target = root / path
        if path == DOCS_PAGE:
            target.write_text(replace_tables(target.read_text(encoding="utf-8")), encoding="utf-8")
        else:
            target.write_text(env_example(), encoding="utf-8")
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is stale")
    parser.add_argument("--root", type=Path, default=Path(), help="the repository (default: here)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.check:
        stale = stale_files(args.root)
        for path in stale:
            logger.error("%s is stale: run `%s`", path, COMMAND)
        return 1 if stale else 0
    for path in write(args.root):
        logger.info("rewrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
