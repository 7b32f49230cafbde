"""Which voice a request means: the model's own voice names and the OpenAI names aliased to them.

Clients written for OpenAI send OpenAI's voice names (Open WebUI's default is ``alloy``, LiveKit's
``ash``; Pipecat refuses any other name before it sends), and the ``openai`` client may send a voice
as ``{"id": ...}``. models.yaml maps each OpenAI name to one of the model's voices. Pure: no torch,
no llama, so the routes, the CLI and a registry of several models can share it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coordinator.errors import InvalidInputError

# Every voice name OpenAI's speech API accepts (2025), in its documentation's order.
OPENAI_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)


@dataclass(frozen=True)
class Voice:
    """One entry of the voices listings: a model's voice, an alias of one (``alias_of``), or a
    custom voice (``custom``, its id the voice's ``voice_<hex>``)."""

    id: str
    name: str
    model: str
    language: str
    alias_of: str | None = None
    default: bool = False
    custom: bool = False  # a custom (cloned) voice, spoken by the cloning model


def voice_id(voice: object) -> str:
    """The name in a request's ``voice``: a string, or OpenAI's ``{"id": "..."}`` object. A
    ValueError otherwise (raised inside request validation, it becomes a 400 naming ``voice``)."""
    if isinstance(voice, str):
        return voice
    value = voice.get("id") if isinstance(voice, Mapping) else None
    if not isinstance(value, str):
        raise ValueError('give a voice name, or an object {"id": "<voice name>"}: see /v1/audio/voices')
    return value


def resolve_voice(
    requested: str, voices: Sequence[str], aliases: Mapping[str, str], *, param: str = "voice"
) -> str:
    """The model voice ``requested`` names: one of ``voices`` or an alias of one, matched exactly
    first, then ignoring case (voice lists are often typed by hand). The result is always spelled
    as the model was trained with it. Unknown: a 400 that lists the valid names."""
    if requested in voices:
        return requested
    if requested in aliases:
        return aliases[requested]
    folded = requested.strip().casefold()
    for voice in voices:
        if voice.casefold() == folded:
            return voice
    for alias, voice in aliases.items():
        if alias.casefold() == folded:
            return voice
    hint = f" (or an OpenAI voice name mapped to one: {', '.join(aliases)})" if aliases else ""
    raise InvalidInputError(
        f"unknown voice {requested!r}: choose one of {', '.join(voices)}{hint}", param=param
    )


def check_aliases(aliases: Mapping[str, str], voices: Sequence[str]) -> None:
    """Every alias must name a voice of the model, and no alias may hide a voice of its own."""
    for alias, target in aliases.items():
        if target not in voices:
            raise ValueError(
                f"openai_voices: {alias} maps to {target!r}, which is not one of the voices ({', '.join(voices)})"
            )
        if alias in voices:
            raise ValueError(
                f"openai_voices: {alias!r} is already a voice of the model: it cannot also be an alias"
            )


def display_name(voice: str) -> str:
    return voice[:1].upper() + voice[1:]


def voice_listing(
    voices: Sequence[str],
    aliases: Mapping[str, str],
    *,
    model: str,
    language: str,
    default: str | None,
    voice_languages: Mapping[str, str] | None = None,
) -> list[Voice]:
    """The model's voices, then the aliases (named after the voice they speak with, so a person
    picking one in a client's menu hears what to expect; ``alias_of`` lets a page hide them).
    ``voice_languages``: the language of each voice of a model that speaks several."""
    spoken = voice_languages or {}
    own = [
        Voice(id=v, name=display_name(v), model=model, language=spoken.get(v, language), default=v == default)
        for v in voices
    ]
    aliased = [
        Voice(
            id=alias,
            name=f"{display_name(alias)} ({display_name(target)})",
            model=model,
            language=spoken.get(target, language),
            alias_of=target,
        )
        for alias, target in aliases.items()
    ]
    return own + aliased
