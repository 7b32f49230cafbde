"""Voice names: the model's own, OpenAI's aliased to them, as a string or {"id": ...}."""

import pytest

from coordinator.errors import InvalidInputError
from coordinator.orpheus.voices import (
    OPENAI_VOICES,
    check_aliases,
    resolve_voice,
    voice_id,
    voice_listing,
)

VOICES = ["tara", "leo"]
ALIASES = {"alloy": "tara", "onyx": "leo"}


@pytest.mark.parametrize(
    ("requested", "voice"),
    [
        ("tara", "tara"),
        ("alloy", "tara"),
        ("onyx", "leo"),
        ("Leo", "leo"),
        ("ALLOY", "tara"),
        (" tara ", "tara"),
    ],
)
def test_a_voice_or_an_alias_in_any_case_resolves_to_the_models_spelling(requested, voice):
    assert resolve_voice(requested, VOICES, ALIASES) == voice


def test_an_unknown_voice_names_the_voices_and_the_aliases():
    with pytest.raises(
        InvalidInputError, match=r"unknown voice 'bob': choose one of tara, leo \(or an OpenAI"
    ) as info:
        resolve_voice("bob", VOICES, ALIASES)
    assert info.value.param == "voice" and "alloy, onyx" in info.value.message
    with pytest.raises(InvalidInputError, match=r"choose one of tara, leo$"):
        resolve_voice("bob", VOICES, {})


def test_a_voice_is_a_string_or_an_object_with_an_id():
    assert voice_id("tara") == "tara" and voice_id({"id": "alloy"}) == "alloy"
    for bad in ({"name": "tara"}, {"id": 3}, 7, None):
        with pytest.raises(ValueError, match=r'or an object \{"id"'):
            voice_id(bad)


def test_aliases_must_name_a_voice_and_may_not_shadow_one():
    check_aliases(ALIASES, VOICES)
    with pytest.raises(ValueError, match="alloy maps to 'bob', which is not one of the voices"):
        check_aliases({"alloy": "bob"}, VOICES)
    with pytest.raises(ValueError, match="'leo' is already a voice"):
        check_aliases({"leo": "tara"}, VOICES)


def test_the_listing_puts_the_models_voices_first_and_marks_the_aliases():
    listing = voice_listing(VOICES, ALIASES, model="m", language="en", default="tara")
    assert [(v.id, v.name, v.alias_of, v.default) for v in listing] == [
        ("tara", "Tara", None, True),
        ("leo", "Leo", None, False),
        ("alloy", "Alloy (Tara)", "tara", False),
        ("onyx", "Onyx (Leo)", "leo", False),
    ]


def test_the_shipped_catalog_maps_every_openai_voice():
    from pathlib import Path

    from coordinator.config.catalog import load_catalog

    catalog = load_catalog(Path(__file__).resolve().parents[2] / "models.yaml")
    assert set(catalog.orpheus.openai_voices) == set(OPENAI_VOICES) and len(OPENAI_VOICES) == 13
