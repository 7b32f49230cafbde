"""What the transcription port's ``describe`` is answered with: the recogniser as Home Assistant
lists it. The catalog's answer while the models load, the loaded recogniser's once there is one
(only it knows whether it is multilingual).
"""

from __future__ import annotations

from collections.abc import Callable

from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Info

from coordinator import __version__
from coordinator.config.catalog import ModelCatalog
from coordinator.config.selection import stt_variant
from coordinator.config.settings import Settings
from coordinator.runtime.loading import Runtime, stt_model_id
from coordinator.stt.engine import ENGLISH
from coordinator.stt.formats import LANGUAGE_NAMES
from coordinator.wyoming.info import PROGRAM_NAME

PROGRAM_DESCRIPTION = "Whisper (faster-whisper) speech recognition"
WHISPER_URL = "https://github.com/openai/whisper"


def transcription_info(model_id: str, multilingual: bool, *, provider: str, license_url: str) -> Info:
    attribution = Attribution(name=provider, url=license_url or WHISPER_URL)
    languages = sorted(LANGUAGE_NAMES) if multilingual else [ENGLISH]
    model = AsrModel(
        name=model_id,
        description=f"Whisper {model_id}",
        attribution=attribution,
        installed=True,
        version=__version__,
        languages=languages,
    )
    program = AsrProgram(
        name=f"{PROGRAM_NAME}-stt",
        description=PROGRAM_DESCRIPTION,
        attribution=attribution,
        installed=True,
        version=__version__,
        models=[model],
    )
    return Info(asr=[program])


def describe_transcription(runtime: Callable[[], Runtime | None], settings_info: Info) -> Callable[[], Event]:
    """The info event: the loaded recogniser's (it knows whether it is multilingual), else what
    the catalog says while the models load."""

    def describe() -> Event:
        loaded = runtime()
        if loaded is not None and loaded.stt is not None:
            stt = loaded.stt
            program = settings_info.asr[0]
            return transcription_info(
                stt.model_id,
                stt.transcriber.multilingual,
                provider=program.attribution.name,
                license_url=program.attribution.url,
            ).event()
        return settings_info.event()

    return describe


def catalog_transcription_info(settings: Settings, catalog: ModelCatalog) -> Info:
    """What the catalog says the configured recogniser is (before it is loaded)."""
    chosen = stt_variant(catalog, settings)
    spec = catalog.stt
    return transcription_info(
        stt_model_id(catalog, settings),
        chosen[1].multilingual if chosen is not None else True,
        provider=spec.provider if spec is not None else "OpenAI",
        license_url=spec.license_url if spec is not None else WHISPER_URL,
    )
