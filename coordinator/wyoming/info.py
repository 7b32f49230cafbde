"""What a Wyoming ``describe`` is answered with: the speech program and its voices.

The built-in voices come from the catalog (not the loaded models), so Home Assistant can add the
server while the models are still loading, and are answered from memory well inside its 1 s
describe timeout. The custom (cloned) voices are added from the loaded runtime's voice store (in
memory too) when a cloning model is loaded: the store changes while the server runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wyoming.info import Attribution, Info, TtsProgram, TtsVoice

from coordinator import __version__
from coordinator.config.catalog import DEFAULT_ORPHEUS_MODEL, ModelCatalog, OrpheusSpec
from coordinator.config.selection import default_orpheus, select_orpheus
from coordinator.config.settings import Settings
from coordinator.runtime.loading import Runtime

PROGRAM_NAME = "orpheus-coordinator"
PROGRAM_DESCRIPTION = "Orpheus TTS with streaming SNAC decoding"
PROGRAM_URL = "https://github.com/canopyai/Orpheus-TTS"


@dataclass(frozen=True)
class VoiceEntry:
    """One voice as Wyoming lists it: its name (``key/voice`` for a voice two selected models
    share, the form the HTTP API resolves), the languages it speaks, and its model's name."""

    name: str
    languages: tuple[str, ...]
    model: str = ""
    voice_id: str | None = None  # a custom voice's id: what a request naming it speaks with


def _selected(catalog: ModelCatalog, settings: Settings | None) -> list[tuple[str, OrpheusSpec]]:
    """The Orpheus models ORPHEUS_MODELS selects (without settings: the catalog's default one),
    the default model first."""
    if settings is None:
        return [(DEFAULT_ORPHEUS_MODEL, catalog.orpheus)]
    choices = select_orpheus(catalog, settings)
    default = default_orpheus(choices)
    return [(c.key, c.spec) for c in [default, *(c for c in choices if c is not default)]]


def voice_entries(catalog: ModelCatalog, settings: Settings | None = None) -> list[VoiceEntry]:
    """Every voice this server speaks with (of each Orpheus model ORPHEUS_MODELS selects), the
    default model's default voice first (Home Assistant preselects the first one). The one place
    that lists voices for Wyoming: describe and voice resolution both read it."""
    models = _selected(catalog, settings)
    counts: dict[str, int] = {}
    for _key, spec in models:
        for voice in spec.voices:
            counts[voice] = counts.get(voice, 0) + 1
    entries = []
    for index, (key, spec) in enumerate(models):
        voices = spec.voices
        if index == 0 and spec.default_voice:  # a cloning model alone has no default voice
            voices = [spec.default_voice, *(v for v in voices if v != spec.default_voice)]
        for voice in voices:
            name = f"{key}/{voice}" if counts[voice] > 1 else voice
            entries.append(VoiceEntry(name, (spec.language_of(voice),), spec.name))
    return entries


def custom_entries(runtime: Runtime | None) -> list[VoiceEntry]:
    """The custom voices, by name, when the runtime has loaded a cloning model (else none: they
    could not be spoken)."""
    cloning = runtime.speech.cloning if runtime is not None else None
    if runtime is None or cloning is None:
        return []
    return [
        VoiceEntry(voice.name, (voice.language,), f"{cloning.model_id} custom", voice.id)
        for voice in runtime.voices.voices()
    ]


def tts_voice(entry: VoiceEntry, attribution: Attribution) -> TtsVoice:
    return TtsVoice(
        name=entry.name,
        description=f"{entry.model} {entry.name}",
        attribution=attribution,
        installed=True,
        version=__version__,
        languages=list(entry.languages),
    )


def with_voices(info: Info, entries: Sequence[VoiceEntry]) -> Info:
    """``info`` with ``entries`` listed after its program's own voices."""
    if not entries or not info.tts:
        return info
    program = info.tts[0]
    added = [tts_voice(entry, program.attribution) for entry in entries]
    program = TtsProgram(
        name=program.name,
        description=program.description,
        attribution=program.attribution,
        installed=program.installed,
        version=program.version,
        voices=[*program.voices, *added],
        supports_synthesize_streaming=program.supports_synthesize_streaming,
    )
    return Info(tts=[program, *info.tts[1:]])


def speech_info(catalog: ModelCatalog, settings: Settings | None = None) -> Info:
    spec = catalog.orpheus
    attribution = Attribution(name=spec.provider, url=PROGRAM_URL)
    voices = [tts_voice(entry, attribution) for entry in voice_entries(catalog, settings)]
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
