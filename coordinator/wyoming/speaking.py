"""What every Wyoming speech connection shares, and how a request's voice is chosen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wyoming.event import Event
from wyoming.info import Info

from coordinator.errors import InvalidInputError
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.wyoming.context import ServerContext
from coordinator.wyoming.info import VoiceEntry, custom_entries, with_voices


@dataclass(frozen=True)
class SpeechPort:
    """What every connection of the speech port shares: the server (models, drain), the describe
    answer and the voices (the catalog's; the custom ones are read from the runtime at each
    request), the HTTP API's limits and metrics, the seed."""

    context: ServerContext
    info: Event
    voices: Sequence[VoiceEntry]
    limits: RequestLimits
    metrics: Metrics
    seed: int | None = None

    def all_voices(self) -> list[VoiceEntry]:
        """The catalog's voices, then the custom ones (when a cloning model is loaded)."""
        return [*self.voices, *custom_entries(self.context.runtime())]

    def describe(self) -> Event:
        """The describe answer: ``info`` with the custom voices there are now."""
        custom = custom_entries(self.context.runtime())
        return with_voices(Info.from_event(self.info), custom).event() if custom else self.info

    def voice(self, name: str | None, language: str | None) -> str:
        """The voice a request names, else the first voice speaking its language, else the default
        (the first listed). A custom voice is spoken by its id (its name may change case)."""
        voices = self.all_voices()
        if name is not None:
            entry = next((v for v in voices if isinstance(name, str) and v.name == name), None)
            if entry is None:
                raise InvalidInputError(
                    f"unknown voice {name!r}: choose one of {', '.join(v.name for v in voices)}",
                    param="voice",
                )
            return entry.voice_id or entry.name
        if language is not None:
            wanted = _primary_language(str(language))
            for entry in voices:
                if wanted in {_primary_language(lang) for lang in entry.languages}:
                    return entry.voice_id or entry.name
            spoken = sorted({lang for v in voices for lang in v.languages})
            raise InvalidInputError(
                f"no voice here speaks {language!r}: this server speaks {', '.join(spoken)}",
                param="voice",
            )
        if not voices:
            raise InvalidInputError(
                "this server has no voice yet (its cloning model speaks custom voices only): create one "
                "with POST /v1/audio/voices, then name it",
                param="voice",
            )
        return voices[0].voice_id or voices[0].name


def _primary_language(tag: str) -> str:
    """'en-US', 'en_US', 'EN' → 'en': Home Assistant sends either form."""
    return tag.replace("_", "-").split("-", 1)[0].lower()
