"""The Orpheus models a server speaks with, and which of them speaks a request's voice.

Each loaded model (English, French, ...) has its own engine (context, slots, queue); they share
the one SNAC codec and the one batched decode thread (the runtime's). A request names a voice,
and perhaps a model; ``SpeechModels.resolve`` turns that into the model and the exact voice
string it was trained with. The rules, in the order they win:

1. ``"model/voice"`` in the voice field (``fr/pierre``, ``orpheus-3b-french-ft/pierre``): that
   model, that voice. It wins over the request's ``model`` field.
2. A ``model`` field naming a loaded Orpheus model (its id, catalog key or a language code):
   the voice is looked up in that model only.
3. Otherwise (``model`` absent or a generic name such as ``tts-1`` or ``orpheus``): the voice is
   looked up in every loaded model. One match: that model. Several: a 400 that lists the
   ``model/voice`` forms to choose from. None: the OpenAI voice aliases (``alloy``, ...) of the
   default model (models.yaml's openai_voices); else a 400 listing each model's voices.

A voice is matched exactly first, then regardless of case (``Pierre`` → ``pierre``), because the
string goes into the prompt verbatim and the models only know the spelling they were trained on.

Custom (cloned) voices live in a VoiceBook (the voice store, attached at startup) and are spoken
by the cloning model (the pretrained Orpheus, models.yaml's ``clones: true``): a voice the book
finds, by id or by name in any case, resolves to that model with the ClonedVoice, under any of
the rules above (``pretrained/<name>``, ``model: pretrained``, or the voice alone). Their names
can never shadow a built-in voice or an alias (``reserved_names``), so the order of the lookups
never changes what a name means. A cloning model has no built-in voices and so no default voice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Protocol

from coordinator.config.catalog import DEFAULT_ORPHEUS_MODEL, OrpheusSpec, model_id
from coordinator.errors import InvalidInputError, UnknownModelError
from coordinator.llm.chat import TextModel
from coordinator.orpheus.clone import ClonedVoice
from coordinator.orpheus.voices import OPENAI_VOICES, Voice, voice_listing
from coordinator.tts.synthesis import OrpheusTTS

# OpenAI's TTS model names, and "orpheus": a request naming one lets its voice pick the model.
GENERIC_SPEECH_MODELS = ("orpheus", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
MODEL_VOICE_SEPARATOR = "/"
# The catalog key named in the fix when no cloning model is in models.yaml at all.
CLONING_MODEL_KEY = "pretrained"


class VoiceBook(Protocol):
    """The custom voices a server knows (coordinator/voices' store implements it)."""

    def find(self, name: str) -> ClonedVoice | None:
        """The voice of that id, or of that name regardless of case; None if none."""

    def voices(self) -> list[ClonedVoice]:
        """Every custom voice, in a stable order."""


@dataclass
class SpeechModel:
    """One loaded Orpheus model: its catalog entry, its speech pipeline, its raw completions."""

    key: str
    spec: OrpheusSpec
    tts: OrpheusTTS
    # Raw Orpheus completions (<custom_token_N> text) on this model's engine, for front ends built
    # for an Orpheus llama.cpp backend.
    text: TextModel

    @property
    def model_id(self) -> str:
        return self.text.model_id

    @property
    def languages(self) -> list[str]:
        return self.spec.languages

    @property
    def voices(self) -> list[str]:
        return self.tts.voices

    @property
    def clones(self) -> bool:
        """A cloning model: it speaks custom voices, and perhaps no built-in one."""
        return self.spec.clones

    @property
    def default_voice(self) -> str:
        """The voice a request without one gets; "" for a model without built-in voices."""
        if not self.voices:
            return ""
        return self.spec.default_voice if self.spec.default_voice in self.voices else self.voices[0]

    def language_of(self, voice: str) -> str:
        return self.spec.language_of(voice)

    def names(self) -> tuple[str, ...]:
        """What a request may call this model: its API id, catalog key and language codes."""
        return (self.model_id, self.key, *self.languages)

    def match_voice(self, voice: str) -> str | None:
        """The exact voice string ``voice`` means in this model, or None."""
        if voice in self.voices:
            return voice
        folded = [v for v in self.voices if v.casefold() == voice.casefold()]
        return folded[0] if len(folded) == 1 else None

    def close(self) -> None:
        self.tts.close()


@dataclass(frozen=True)
class ResolvedVoice:
    """The model that speaks a request, and the exact voice string for its prompt; for a custom
    voice, the voice's id and the ClonedVoice whose references make the prompt."""

    model: SpeechModel
    voice: str
    cloned: ClonedVoice | None = None

    @property
    def tts(self) -> OrpheusTTS:
        return self.model.tts

    @property
    def spoken(self) -> str | ClonedVoice:
        """What the speech pipeline speaks with: the custom voice, else the voice string."""
        return self.cloned if self.cloned is not None else self.voice

    @property
    def language(self) -> str:
        if self.cloned is not None:
            return self.cloned.language
        return self.model.language_of(self.voice)


class SpeechModels:
    """The loaded Orpheus models, by key, the default one first."""

    def __init__(
        self,
        models: list[SpeechModel],
        *,
        catalog_models: dict[str, OrpheusSpec] | None = None,
        voice_book: VoiceBook | None = None,
    ) -> None:
        if not models:
            raise ValueError("at least one Orpheus model")
        # English, else the first with built-in voices (a cloning model has no default voice).
        default = next(
            (m for m in models if m.key == DEFAULT_ORPHEUS_MODEL),
            next((m for m in models if not m.clones), models[0]),
        )
        self._models = [default, *(m for m in models if m is not default)]
        # The catalog's models, loaded or not: a voice of one that is not loaded gets a precise fix.
        self._catalog = catalog_models or {m.key: m.spec for m in models}
        self._book = voice_book

    def attach_voices(self, book: VoiceBook) -> None:
        """Speak the custom voices of ``book`` (the voice store, once it has loaded)."""
        self._book = book

    @property
    def cloning(self) -> SpeechModel | None:
        """The loaded model that speaks custom voices, if any."""
        return next((m for m in self._models if m.clones), None)

    @property
    def default(self) -> SpeechModel:
        """The default model: English when loaded, else the first of ORPHEUS_MODELS."""
        return self._models[0]

    def __iter__(self) -> Iterator[SpeechModel]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def ids(self) -> list[str]:
        return [m.model_id for m in self._models]

    def _alias(self, voice: str) -> str | None:
        """The default model's voice an OpenAI name (models.yaml's openai_voices) stands for."""
        aliases = self.default.tts.voice_aliases
        if voice in aliases:
            return aliases[voice]
        folded = voice.casefold()
        return next((target for alias, target in aliases.items() if alias.casefold() == folded), None)

    def voice_listing(self) -> list[Voice]:
        """Every voice a request may name: each model's own (the default model first), the custom
        voices when a cloning model is loaded (marked custom), then the OpenAI aliases of the
        default model's. A voice several loaded models share is listed as ``key/voice``, the form
        that names it unambiguously."""
        counts: dict[str, int] = {}
        for model in self._models:
            for voice in model.voices:
                counts[voice] = counts.get(voice, 0) + 1
        own: list[Voice] = []
        aliased: list[Voice] = []
        for model in self._models:
            is_default = model is self.default
            listing = voice_listing(
                model.voices,
                model.tts.voice_aliases if is_default else {},
                model=model.model_id,
                language=model.spec.language,
                default=model.default_voice if is_default else None,
                voice_languages=model.spec.voice_languages,
            )
            for entry in listing:
                if entry.alias_of is not None:
                    aliased.append(entry)
                elif counts[entry.id] > 1:
                    own.append(replace(entry, id=f"{model.key}{MODEL_VOICE_SEPARATOR}{entry.id}"))
                else:
                    own.append(entry)
        return own + self._custom_listing() + aliased

    def _custom_listing(self) -> list[Voice]:
        cloning = self.cloning
        if cloning is None or self._book is None:
            return []  # not speakable here: listing them would invite a 400
        return [
            Voice(id=v.id, name=v.name, model=cloning.model_id, language=v.language, custom=True)
            for v in self._book.voices()
        ]

    def reserved_names(self) -> set[str]:
        """Every name a custom voice may not take, case-folded: the voices of every model (loaded
        or only in models.yaml), their OpenAI aliases, every model's names (id, key, languages)
        and the generic model names, so that a custom name never changes what a request meant."""
        names: set[str] = {*OPENAI_VOICES, *GENERIC_SPEECH_MODELS}
        for key, spec in self._catalog.items():
            names.update((key, model_id(spec.name), *spec.languages, *spec.voices, *spec.openai_voices))
        for model in self._models:
            names.update((*model.names(), *model.voices, *model.tts.voice_aliases))
        return {name.casefold() for name in names}

    def find(self, name: str) -> SpeechModel | None:
        """The loaded model ``name`` means (API id, catalog key or language code), or None."""
        for model in self._models:
            if name in (model.model_id, model.key):
                return model
        return next((m for m in self._models if name in m.languages), None)

    def model(self, name: str | None, *, param: str = "model") -> SpeechModel | None:
        """The model a request's ``model`` field names: None for a generic name (the voice picks),
        else a loaded model; anything else is a 400 naming the fix."""
        if name is None or name in GENERIC_SPEECH_MODELS:
            return None
        found = self.find(name)
        if found is not None:
            return found
        raise UnknownModelError(self._unknown_model_message(name), param=param)

    def resolve(self, voice: str | None, model: str | None = None, *, param: str = "voice") -> ResolvedVoice:
        """The model and exact voice of a request (see the module's rules)."""
        chosen = self.model(model)
        if voice is None or not voice.strip():
            fallback = chosen or self.default
            if not fallback.voices:
                raise InvalidInputError(self._no_default_message(fallback), param=param)
            return ResolvedVoice(fallback, fallback.default_voice)
        voice = voice.strip()
        prefix, sep, rest = voice.rpartition(MODEL_VOICE_SEPARATOR)
        if sep and prefix:
            named = self.find(prefix)
            if named is None:
                raise InvalidInputError(
                    f"voice {voice!r} names model {prefix!r}: " + self._unknown_model_message(prefix),
                    param=param,
                )
            return self._voice_of(named, rest, param=param)
        if chosen is not None:
            return self._voice_of(chosen, voice, param=param)
        matches = [(m, v) for m in self._models if (v := m.match_voice(voice)) is not None]
        if len(matches) == 1:
            return ResolvedVoice(*matches[0])
        if len(matches) > 1:
            forms = ", ".join(f"{m.key}/{v}" for m, v in matches)
            raise InvalidInputError(
                f"voice {voice!r} exists in {len(matches)} loaded models: name one as model/voice "
                f"({forms}) or set model to one of {', '.join(m.model_id for m, _ in matches)}",
                param=param,
                code="ambiguous_voice",
            )
        cloned = self._find_custom(voice)
        if cloned is not None:
            return self._custom(cloned, param=param)
        alias = self._alias(voice)
        if alias is not None and alias in self.default.voices:
            return ResolvedVoice(self.default, alias)
        raise InvalidInputError(self._unknown_voice_message(voice), param=param)

    def _find_custom(self, voice: str) -> ClonedVoice | None:
        return self._book.find(voice) if self._book is not None else None

    def _voice_of(self, model: SpeechModel, voice: str, *, param: str) -> ResolvedVoice:
        """``voice`` in ``model``: a custom voice on a cloning model, else one of its own."""
        if model.clones:
            cloned = self._find_custom(voice)
            if cloned is not None:
                return ResolvedVoice(model, cloned.id, cloned)
            if model.match_voice(voice) is None:
                raise InvalidInputError(
                    f"unknown voice {voice!r} for model {model.model_id}, which speaks custom voices: "
                    "name one by its id or name (GET /v1/audio/voices lists them; POST /v1/audio/voices "
                    "creates one)",
                    param=param,
                )
        return ResolvedVoice(model, self._voice_in(model, voice, param=param))

    def _custom(self, cloned: ClonedVoice, *, param: str) -> ResolvedVoice:
        """The cloning model that speaks ``cloned``: the first loaded that speaks its language,
        else the first loaded; a 400 naming the fix when none is."""
        cloning = [m for m in self._models if m.clones]
        if not cloning:
            key = next((k for k, spec in self._catalog.items() if spec.clones), CLONING_MODEL_KEY)
            loaded = ",".join(m.key for m in self._models)
            raise InvalidInputError(
                f"voice {cloned.id!r} ({cloned.name}) is a custom voice, spoken by the cloning model "
                f"{key!r}, which is not loaded here: set ORPHEUS_MODELS={loaded},{key} and restart",
                param=param,
            )
        model = next((m for m in cloning if cloned.language in m.languages), cloning[0])
        return ResolvedVoice(model, cloned.id, cloned)

    def _no_default_message(self, model: SpeechModel) -> str:
        others = [m for m in self._models if m.voices]
        hint = (
            f", or use a model with built-in voices ({', '.join(m.model_id for m in others)})"
            if others
            else ""
        )
        return (
            f"model {model.model_id} speaks custom voices only and has no default voice: name a custom "
            f"voice by its id or name (GET /v1/audio/voices lists them; POST /v1/audio/voices creates one){hint}"
        )

    def _voice_in(self, model: SpeechModel, voice: str, *, param: str) -> str:
        found = model.match_voice(voice)
        if found is None and model is self.default:
            found = self._alias(voice)
        if found is None or found not in model.voices:
            elsewhere = [m for m in self._models if m is not model and m.match_voice(voice)]
            hint = (
                f"; {voice!r} is a voice of {elsewhere[0].model_id} ({elsewhere[0].key})" if elsewhere else ""
            )
            if not elsewhere and self._find_custom(voice) is not None:
                hint = f"; {voice!r} is a custom voice: leave model out, or name the cloning model"
            raise InvalidInputError(
                f"unknown voice {voice!r} for model {model.model_id}: choose one of "
                f"{', '.join(model.voices) or '(none)'}{hint}",
                param=param,
            )
        return found

    def _unknown_model_message(self, name: str) -> str:
        loaded = ", ".join(f"{m.model_id} ({'/'.join(m.names()[1:])})" for m in self._models)
        unloaded = self._catalog_entry(lambda key, spec: name in (key, model_id(spec.name), *spec.languages))
        if unloaded is not None:
            return (
                f"model {name!r} is in models.yaml but not loaded here: add {unloaded} to ORPHEUS_MODELS "
                f"and restart, or use one of {loaded}"
            )
        generic = ", ".join(GENERIC_SPEECH_MODELS)
        return f"model {name!r} does not exist here: use one of {loaded} (or {generic}: the voice picks)"

    def _unknown_voice_message(self, voice: str) -> str:
        unloaded = self._catalog_entry(lambda _key, spec: voice in spec.voices)
        if unloaded is not None:
            return (
                f"voice {voice!r} belongs to the {unloaded} model of models.yaml, which is not loaded "
                f"here: add {unloaded} to ORPHEUS_MODELS and restart"
            )
        listing = "; ".join(f"{m.key}: {', '.join(m.voices)}" for m in self._models if m.voices)
        return f"unknown voice {voice!r}: choose one of {listing} (GET /v1/audio/voices lists them)"

    def _catalog_entry(self, matches: Callable[[str, OrpheusSpec], bool]) -> str | None:
        loaded = {m.key for m in self._models}
        return next(
            (key for key, spec in self._catalog.items() if key not in loaded and matches(key, spec)), None
        )

    def close(self) -> None:
        for model in self._models:
            model.close()


def speech_model(key: str, spec: OrpheusSpec, tts: OrpheusTTS) -> SpeechModel:
    """A loaded model with its raw-completion text model on the same engine."""
    text = TextModel(tts.engine, model_id=model_id(spec.name), quant=tts.quant, special_tokens_in_output=True)
    return SpeechModel(key=key, spec=spec, tts=tts, text=text)
