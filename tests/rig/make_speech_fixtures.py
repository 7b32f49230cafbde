"""Record the test speech: every sentence the tests speak, by espeak-ng, into tests/rig/speech/.

The tests read these files (``audio_samples.spoken``) instead of running espeak-ng, so README's
test command needs no system program. Only this script needs espeak-ng (``apt-get install
espeak-ng``); run it after adding a sentence to SENTENCES:

    python -m tests.rig.make_speech_fixtures

Each sentence becomes a mono FLAC at espeak-ng's own rate, 16-bit as espeak-ng writes it, so the
samples are exactly espeak-ng's (lossless); manifest.json maps each text and voice to its file and
records the espeak-ng version that spoke it.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import soundfile as sf

logger = logging.getLogger(__name__)

SPEECH_DIR = Path(__file__).resolve().parent / "speech"
MANIFEST = SPEECH_DIR / "manifest.json"
REGENERATE = "python -m tests.rig.make_speech_fixtures"
VOICE = "en"
ESPEAK_TIMEOUT_S = 30
# espeak-ng writes 16-bit PCM: FLAC keeps every bit of it.
SUBTYPE = "PCM_16"
# Every sentence a test (or benchmarks/stt_engines.py) passes to spoken().
SENTENCES = (
    "Hello there. Tell me a story about a cat.",
    "What is the weather like today?",
    "The quick brown fox jumps over the lazy dog.",
    "Turn on the kitchen lights, please.",
    "What time is it?",
    "Hello there. How are you today?",
    "The quick brown fox jumps over the lazy dog, and then it runs into the forest to hide.",
)


def file_name(text: str, voice: str) -> str:
    """A readable name from the words: ``en_what-time-is-it.flac``."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return f"{voice}_{slug}.flac"


def espeak_version(espeak: str) -> str:
    # "eSpeak NG text-to-speech: 1.51  Data at: ..." -> "1.51"
    out = subprocess.run([espeak, "--version"], check=True, capture_output=True, text=True).stdout
    match = re.search(r"text-to-speech:\s*(\S+)", out)
    return match.group(1) if match else out.strip()


def speak(espeak: str, text: str, voice: str, path: Path) -> int:
    """Speak ``text`` into ``path`` (FLAC); returns the sample rate."""
    wav = subprocess.run(
        [espeak, "-v", voice, "--stdout", text], check=True, capture_output=True, timeout=ESPEAK_TIMEOUT_S
    ).stdout
    samples, rate = sf.read(io.BytesIO(wav), dtype="int16")
    sf.write(path, samples.reshape(-1), rate, format="FLAC", subtype=SUBTYPE)
    return rate


def record(
    texts: list[str] | tuple[str, ...],
    directory: Path,
    *,
    regenerate: str,
    voice: str = VOICE,
    described: dict[str, str] | None = None,
) -> None:
    """Speak each text with espeak-ng into ``directory`` (one FLAC each), drop the recordings no
    text names any more, and write the manifest the tests read (``described``: more of what the
    recordings are, beside their source)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("error: espeak-ng is not installed: apt-get install -y espeak-ng")
    directory.mkdir(exist_ok=True)
    entries = []
    for text in texts:
        name = file_name(text, voice)
        rate = speak(espeak, text, voice, directory / name)
        entries.append({"text": text, "voice": voice, "file": name, "rate": rate})
    kept = {entry["file"] for entry in entries}
    for stale in directory.glob("*.flac"):
        if stale.name not in kept:
            stale.unlink()
    manifest = {
        "source": f"espeak-ng {espeak_version(espeak)}, written by {regenerate}",
        **(described or {}),
        "sentences": entries,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum((directory / name).stat().st_size for name in kept)
    logger.info("%d recordings, %d bytes of FLAC in %s", len(entries), total, directory)


def main() -> None:
    record(SENTENCES, SPEECH_DIR, regenerate=REGENERATE, described={"format": f"FLAC, mono, {SUBTYPE}"})


if __name__ == "__main__":
    main()
