"""What a Wyoming ``describe`` is answered with: the speech program and its voices.

Built once from the catalog (not the loaded models), so Home Assistant can add the server while
the models are still loading, and answered from memory well inside its 1 s describe timeout.
"""

from __future__ import annotations

from dataclasses import dataclass

from wyoming.info import Attribution, Info, TtsProgram, TtsVoice

from coordinator import __version__
from coordinator.config import ModelCatalog

PROGRAM_NAME = "orpheus-coordinator"
PROGRAM_DESCRIPTION = "Orpheus TTS with streaming SNAC decoding"
PROGRAM_URL = "https://github.com/canopyai/Orpheus-TTS"


@dataclass(frozen=True)
class VoiceEntry:
    """One voice as Wyoming lists it: its name and the languages it speaks."""

    name: str
    languages: tuple[str, ...]


def voice_entries(catalog: ModelCatalog) -> list[VoiceEntry]:
    """Every voice this server speaks with, default voice first (Home Assistant preselects the
    first one). The one place that lists voices for Wyoming: describe and voice resolution both
    read it."""
    spec = catalog.orpheus
    ordered = [spec.default_voice, *(v for v in spec.voices if v != spec.default_voice)]
    # Every voice speaks its model's language (models.yaml `language`); with several Orpheus
    # models, each model's voices carry that model's.
    return [VoiceEntry(name, (spec.language,)) for name in ordered]


def speech_info(catalog: ModelCatalog) -> Info:
    spec = catalog.orpheus
    attribution = Attribution(name=spec.provider, url=PROGRAM_URL)
    voices = [
        TtsVoice(
            name=entry.name,
            description=f"{spec.name} {entry.name}",
            attribution=attribution,
            installed=True,
            version=__version__,
            languages=list(entry.languages),
        )
        for entry in voice_entries(catalog)
    ]
    program = TtsProgram(
        name=PROGRAM_NAME,
        description=PROGRAM_DESCRIPTION,
        attribution=attribution,
        installed=True,
        version=__version__,
        voices=voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])
