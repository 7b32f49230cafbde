"""Which model speaks a request's voice when custom (cloned) voices exist: the registry's rules
with a VoiceBook, the cloning model's missing default voice, the names a custom voice may not
take, and the listings. The models are the shipped catalog's entries over stand-in pipelines (only
their voices and ids are read here); the voices are real ClonedVoice objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from coordinator.config.catalog import load_catalog, model_id
from coordinator.errors import InvalidInputError
from coordinator.orpheus.clone import ClonedVoice, ReferenceSample
from coordinator.orpheus.voices import OPENAI_VOICES
from coordinator.tts.registry import GENERIC_SPEECH_MODELS, SpeechModel, SpeechModels

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "models.yaml")
REFERENCE_FRAMES = 12


def _voice(voice_id: str, name: str, language: str = "en") -> ClonedVoice:
    frames = np.random.default_rng(0).integers(0, 4096, (REFERENCE_FRAMES, 7))
    return ClonedVoice(
        id=voice_id,
        name=name,
        samples=(ReferenceSample("Hello there.", frames),),
        created_at=1_700_000_000,
        language=language,
    )


@dataclass
class Book:
    """A VoiceBook: by id, or by name regardless of case."""

    held: list[ClonedVoice] = field(default_factory=list)

    def find(self, name: str) -> ClonedVoice | None:
        return next(
            (v for v in self.held if v.id == name or v.name.casefold() == name.casefold()),
            None,
        )

    def voices(self) -> list[ClonedVoice]:
        return list(self.held)


ANNA = _voice("voice_0a1b2c", "Anna")
PIERRE_CLONE = _voice("voice_ff00ee", "Grandpa", language="fr")


def _model(key: str) -> SpeechModel:
    spec = CATALOG.orpheus_models()[key]
    tts = SimpleNamespace(voices=list(spec.voices), voice_aliases=dict(spec.openai_voices))
    text = SimpleNamespace(model_id=model_id(spec.name))
    return SpeechModel(key=key, spec=spec, tts=tts, text=text)  # type: ignore[arg-type]


def _models(*keys: str, book: Book | None = None) -> SpeechModels:
    return SpeechModels([_model(k) for k in keys], catalog_models=CATALOG.orpheus_models(), voice_book=book)


@pytest.fixture
def speech() -> SpeechModels:
    return _models("en", "pretrained", book=Book([ANNA, PIERRE_CLONE]))


def test_a_custom_voice_by_id_or_by_name_in_any_case_selects_the_cloning_model(speech):
    for asked in ("voice_0a1b2c", "Anna", "anna", "ANNA", " anna "):
        resolved = speech.resolve(asked)
        assert (resolved.model.key, resolved.voice, resolved.cloned) == ("pretrained", ANNA.id, ANNA)
        assert resolved.spoken is ANNA and resolved.language == "en"
    # Built-in voices keep the fine-tune, spoken by their string.
    tara = speech.resolve("tara")
    assert (tara.model.key, tara.voice, tara.cloned, tara.spoken) == ("en", "tara", None, "tara")
    assert speech.resolve("alloy").spoken == "tara"


def test_a_custom_voice_speaks_its_own_language(speech):
    resolved = speech.resolve("grandpa")
    assert resolved.cloned is PIERRE_CLONE and resolved.language == "fr"


def test_the_model_voice_form_and_the_model_field_name_the_cloning_model(speech):
    for voice, model in (
        ("pretrained/anna", None),
        ("orpheus-3b-pretrained/voice_0a1b2c", None),
        ("anna", "pretrained"),
        ("voice_0a1b2c", "orpheus-3b-pretrained"),
        ("pretrained/Anna", "tts-1"),
    ):
        resolved = speech.resolve(voice, model)
        assert (resolved.model.key, resolved.cloned) == ("pretrained", ANNA), (voice, model)
    # A generic model name lets the voice pick, custom voices included.
    assert speech.resolve("anna", "gpt-4o-mini-tts").cloned is ANNA


def test_an_unknown_voice_is_refused_naming_where_voices_are_listed(speech):
    with pytest.raises(InvalidInputError, match=r"unknown voice 'nobody'.*GET /v1/audio/voices") as caught:
        speech.resolve("nobody")
    assert caught.value.param == "voice"
    with pytest.raises(InvalidInputError, match=r"unknown voice 'nobody' for model orpheus-3b-pretrained"):
        speech.resolve("pretrained/nobody")
    with pytest.raises(InvalidInputError, match=r"POST /v1/audio/voices creates one"):
        speech.resolve("nobody", "pretrained")


def test_a_built_in_voice_on_the_cloning_model_or_a_custom_one_on_a_fine_tune_is_refused(speech):
    with pytest.raises(InvalidInputError, match=r"unknown voice 'tara' for model orpheus-3b-pretrained"):
        speech.resolve("pretrained/tara")
    with pytest.raises(InvalidInputError, match=r"'anna' is a custom voice: leave model out"):
        speech.resolve("anna", "en")


def test_a_custom_voice_without_a_cloning_model_loaded_names_the_fix():
    speech = _models("en", "fr", book=Book([ANNA]))
    with pytest.raises(InvalidInputError) as caught:
        speech.resolve("anna")
    message = str(caught.value)
    assert "voice_0a1b2c" in message and "custom voice" in message
    assert "ORPHEUS_MODELS=en,fr,pretrained" in message and caught.value.param == "voice"
    # Nor is it listed: naming it would only get that 400.
    assert not any(v.custom for v in speech.voice_listing())


def test_the_cloning_model_has_no_default_voice(speech):
    with pytest.raises(InvalidInputError, match=r"orpheus-3b-pretrained speaks custom voices only") as caught:
        speech.resolve(None, "pretrained")
    assert "orpheus-3b-ft" in str(caught.value) and caught.value.param == "voice"
    with pytest.raises(InvalidInputError, match="no default voice"):
        speech.resolve("  ", "pretrained")
    # Without a model, the default (English) model's default voice, as before.
    assert (speech.resolve(None).model.key, speech.resolve(None).voice) == ("en", "tara")


def test_the_cloning_model_alone_serves_custom_voices_and_refuses_a_missing_voice():
    speech = _models("pretrained", book=Book([ANNA]))
    assert speech.default.key == "pretrained" and speech.default.default_voice == ""
    assert speech.resolve("anna").cloned is ANNA
    with pytest.raises(
        InvalidInputError, match=r"speaks custom voices only.*POST /v1/audio/voices creates one\)$"
    ):
        speech.resolve(None)
    with pytest.raises(InvalidInputError, match="not loaded here: add en to ORPHEUS_MODELS"):
        speech.resolve("tara")
    assert [(v.id, v.model, v.custom) for v in speech.voice_listing()] == [
        ("voice_0a1b2c", "orpheus-3b-pretrained", True)
    ]


def test_the_default_model_is_never_the_cloning_one_when_another_is_loaded():
    speech = _models("pretrained", "fr", book=Book([ANNA]))
    assert speech.default.key == "fr"
    assert speech.resolve(None).voice == "pierre"


def test_voices_attached_after_startup_are_resolved_and_listed():
    speech = _models("en", "pretrained")
    with pytest.raises(InvalidInputError, match="unknown voice 'anna'"):
        speech.resolve("anna")
    assert not any(v.custom for v in speech.voice_listing())
    book = Book()
    speech.attach_voices(book)
    book.held.append(ANNA)  # the store grows while the server runs
    assert speech.resolve("anna").cloned is ANNA


def test_the_listing_marks_custom_voices_after_the_built_in_ones_and_before_the_aliases(speech):
    listing = speech.voice_listing()
    custom = [v for v in listing if v.custom]
    assert [(v.id, v.name, v.model, v.language, v.alias_of, v.default) for v in custom] == [
        ("voice_0a1b2c", "Anna", "orpheus-3b-pretrained", "en", None, False),
        ("voice_ff00ee", "Grandpa", "orpheus-3b-pretrained", "fr", None, False),
    ]
    kinds = ["alias" if v.alias_of else "custom" if v.custom else "own" for v in listing]
    assert kinds == sorted(kinds, key=["own", "custom", "alias"].index)
    assert not any(v.custom for v in listing if v.model == "orpheus-3b-ft")


def test_reserved_names_cover_built_in_voices_aliases_and_model_names_case_folded(speech):
    reserved = speech.reserved_names()
    assert {"tara", "zoe", "pierre", "javi", "유나", "长乐"} <= reserved  # loaded or only in models.yaml
    assert {v.casefold() for v in OPENAI_VOICES} <= reserved
    assert set(GENERIC_SPEECH_MODELS) <= reserved
    assert {"en", "fr", "pretrained", "orpheus-3b-ft", "orpheus-3b-pretrained", "es-it"} <= reserved
    assert all(name == name.casefold() for name in reserved)
    assert "anna" not in reserved and "voice_0a1b2c" not in reserved
