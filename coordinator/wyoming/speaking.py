"""What every Wyoming speech connection shares, and how a request's voice is chosen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wyoming.event import Event

from coordinator.errors import InvalidInputError
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.wyoming.context import ServerContext
from coordinator.wyoming.info import VoiceEntry


@dataclass(frozen=True)
class SpeechPort:
    """What every connection of the speech port shares: the server (models, drain), the describe
    answer, the voices, the HTTP API's limits and metrics, the seed."""

    context: ServerContext
    info: Event
    voices: Sequence[VoiceEntry]
    limits: RequestLimits
    metrics: Metrics
    seed: int | None = None

    def voice(self, name: str | None, language: str | None) -> str:
        """The voice a request names, else the first voice speaking its language, else the default
        (the first listed)."""
        if name is not None:
            if not isinstance(name, str) or name not in {v.name for v in self.voices}:
                raise InvalidInputError(
                    f"unknown voice {name!r}: choose one of {', '.join(v.name for v in self.voices)}",
                    param="voice",
                )
            return name
        if language is not None:
            wanted = _primary_language(str(language))
            for entry in self.voices:
                if wanted in {_primary_language(lang) for lang in entry.languages}:
                    return entry.name
            spoken = sorted({lang for v in self.voices for lang in v.languages})
            raise InvalidInputError(
                f"no voice here speaks {language!r}: this server speaks {', '.join(spoken)}",
                param="voice",
            )
        return self.voices[0].name


def _primary_language(tag: str) -> str:
    """'en-US', 'en_US', 'EN' → 'en': Home Assistant sends either form."""
    return tag.replace("_", "-").split("-", 1)[0].lower()
