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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from coordinator.config.catalog import DEFAULT_ORPHEUS_MODEL, OrpheusSpec, model_id
from coordinator.errors import InvalidInputError, UnknownModelError
from coordinator.llm.chat import TextModel
from coordinator.orpheus.voices import Voice, voice_listing
from coordinator.tts.synthesis import OrpheusTTS

# OpenAI's TTS model names, and "orpheus": a request naming one lets its voice pick the model.
GENERIC_SPEECH_MODELS = ("orpheus", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
MODEL_VOICE_SEPARATOR = "/"


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
    def default_voice(self) -> str:
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
    """The model that speaks a request, and the exact voice string for its prompt."""

    model: SpeechModel
    voice: str

    @property
    def tts(self) -> OrpheusTTS:
        return self.model.tts

    @property
    def language(self) -> str:
        return self.model.language_of(self.voice)


class SpeechModels:
    """The loaded Orpheus models, by key, the default one first."""

    def __init__(
        self,
        models: list[SpeechModel],
        *,
        catalog_models: dict[str, OrpheusSpec] | None = None,
    ) -> None:
        if not models:
            raise ValueError("at least one Orpheus model")
        default = next((m for m in models if m.key == DEFAULT_ORPHEUS_MODEL), models[0])
        self._models = [default, *(m for m in models if m is not default)]
        # The catalog's models, loaded or not: a voice of one that is not loaded gets a precise fix.
        self._catalog = catalog_models or {m.key: m.spec for m in models}

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
        """Every voice a request may name: each model's own (the default model first), then the
        OpenAI aliases of the default model's. A voice several loaded models share is listed as
        ``key/voice``, the form that names it unambiguously."""
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
        return own + aliased

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
            return ResolvedVoice(named, self._voice_in(named, rest, param=param))
        if chosen is not None:
            return ResolvedVoice(chosen, self._voice_in(chosen, voice, param=param))
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
        alias = self._alias(voice)
        if alias is not None and alias in self.default.voices:
            return ResolvedVoice(self.default, alias)
        raise InvalidInputError(self._unknown_voice_message(voice), param=param)

    def _voice_in(self, model: SpeechModel, voice: str, *, param: str) -> str:
        found = model.match_voice(voice)
        if found is None and model is self.default:
            found = self._alias(voice)
        if found is None or found not in model.voices:
            elsewhere = [m for m in self._models if m is not model and m.match_voice(voice)]
            hint = (
                f"; {voice!r} is a voice of {elsewhere[0].model_id} ({elsewhere[0].key})" if elsewhere else ""
            )
            raise InvalidInputError(
                f"unknown voice {voice!r} for model {model.model_id}: choose one of "
                f"{', '.join(model.voices)}{hint}",
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
        listing = "; ".join(f"{m.key}: {', '.join(m.voices)}" for m in self._models)
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
