"""The describe answer and voice resolution, from the catalog alone."""

import pytest

from coordinator.config.catalog import load_catalog
from coordinator.errors import InvalidInputError
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.wyoming.context import ServerContext
from coordinator.wyoming.info import speech_info, voice_entries
from coordinator.wyoming.speaking import SpeechPort


@pytest.fixture(scope="module")
def catalog(settings):
    return load_catalog(settings.catalog_path())


@pytest.fixture(scope="module")
def speech(settings, catalog):
    return SpeechPort(
        context=ServerContext(runtime=lambda: None, not_ready_reason=lambda: None, lifecycle=Lifecycle()),
        info=speech_info(catalog).event(),
        voices=voice_entries(catalog),
        limits=RequestLimits.from_settings(settings),
        metrics=Metrics(lambda: None),
    )


def test_every_catalog_voice_is_listed_once_default_first(catalog):
    names = [entry.name for entry in voice_entries(catalog)]
    assert names[0] == catalog.orpheus.default_voice and sorted(names) == sorted(catalog.orpheus.voices)


def test_info_is_one_streaming_tts_program_and_serialises_as_home_assistant_reads_it(catalog):
    data = speech_info(catalog).event().data
    assert data["asr"] == [] and len(data["tts"]) == 1
    program = data["tts"][0]
    assert program["supports_synthesize_streaming"] is True and program["installed"] is True
    assert program["attribution"] == {"name": catalog.orpheus.provider, "url": program["attribution"]["url"]}
    assert {voice["name"] for voice in program["voices"]} == set(catalog.orpheus.voices)


@pytest.mark.parametrize(
    ("name", "language", "expected"),
    [
        (None, None, "tara"),
        ("zoe", None, "zoe"),
        ("zoe", "de", "zoe"),  # a name wins over a language, as in wyoming's SynthesizeVoice
        (None, "en", "tara"),
        (None, "en-US", "tara"),
        (None, "en_GB", "tara"),
        (None, "EN", "tara"),
    ],
)
def test_a_voice_is_chosen_by_name_then_language_then_default(speech, name, language, expected):
    assert speech.voice(name, language) == expected


@pytest.mark.parametrize(
    ("name", "language", "message"),
    [
        ("nobody", None, "unknown voice 'nobody': choose one of tara, leah"),
        (42, None, "unknown voice 42"),
        (None, "fr-FR", "no voice here speaks 'fr-FR': this server speaks en"),
    ],
)
def test_an_unknown_voice_or_language_names_what_there_is(speech, name, language, message):
    with pytest.raises(InvalidInputError, match=message):
        speech.voice(name, language)
