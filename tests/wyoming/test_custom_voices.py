"""Custom voices in Wyoming: listed in describe (after the catalog's) while a cloning model is
loaded, read from the store at each describe (it changes while the server runs), selected by name
and spoken by id; a valid describe with an empty store, and with a cloning model alone."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from wyoming.info import Info

from coordinator.config.catalog import load_catalog
from coordinator.errors import InvalidInputError
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.wyoming.context import ServerContext
from coordinator.wyoming.info import speech_info, voice_entries
from coordinator.wyoming.speaking import SpeechPort
from tests.voices.rig import random_voice

CLONING_MODEL = "orpheus-3b-pretrained"


class _Store:
    def __init__(self) -> None:
        self.kept: list = []

    def voices(self) -> list:
        return list(self.kept)


def _runtime(store: _Store, *, cloning: bool = True) -> SimpleNamespace:
    model = SimpleNamespace(model_id=CLONING_MODEL) if cloning else None
    return SimpleNamespace(speech=SimpleNamespace(cloning=model), voices=store)


def _port(settings, runtime, *, catalog_voices: bool = True) -> SpeechPort:
    catalog = load_catalog(settings.catalog_path())
    info = speech_info(catalog)
    if not catalog_voices:  # a cloning model alone: no built-in voice
        info.tts[0].voices = []
    return SpeechPort(
        context=ServerContext(runtime=lambda: runtime, not_ready_reason=lambda: None, lifecycle=Lifecycle()),
        info=info.event(),
        voices=voice_entries(catalog) if catalog_voices else [],
        limits=RequestLimits.from_settings(settings),
        metrics=Metrics(lambda: None),
    )


def _names(port: SpeechPort) -> list[str]:
    return [voice.name for voice in Info.from_event(port.describe()).tts[0].voices]


def test_custom_voices_are_described_after_the_catalogs_and_selected_by_name(settings):
    store = _Store()
    port = _port(settings, _runtime(store))
    builtin = _names(port)
    assert builtin and "Ada" not in builtin  # the empty store: the catalog's describe, unchanged
    ada = random_voice("voice_" + "a" * 16, "Ada")
    store.kept.append(ada)  # created over HTTP while the port serves
    described = Info.from_event(port.describe()).tts[0].voices
    assert [v.name for v in described] == [*builtin, "Ada"]
    assert described[-1].languages == ["en"] and CLONING_MODEL in (described[-1].description or "")
    assert port.voice("Ada", None) == ada.id
    assert port.voice(None, None) == builtin[0]  # the default stays the catalog's first voice
    store.kept.clear()  # deleted: gone from describe, and refused by name
    assert _names(port) == builtin
    with pytest.raises(InvalidInputError, match="unknown voice 'Ada'"):
        port.voice("Ada", None)


def test_without_a_cloning_model_custom_voices_are_not_listed(settings):
    store = _Store()
    store.kept.append(random_voice("voice_" + "b" * 16, "Bea"))
    port = _port(settings, _runtime(store, cloning=False))
    assert "Bea" not in _names(port)


def test_a_cloning_model_alone_describes_validly_and_its_first_custom_voice_is_the_default(settings):
    store = _Store()
    port = _port(settings, _runtime(store), catalog_voices=False)
    assert _names(port) == []
    with pytest.raises(InvalidInputError, match="POST /v1/audio/voices"):
        port.voice(None, None)
    cleo = random_voice("voice_" + "c" * 16, "Cleo")
    store.kept.append(cleo)
    assert _names(port) == ["Cleo"] and port.voice(None, "en") == cleo.id == port.voice(None, None)
