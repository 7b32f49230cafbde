"""A server started with the cloning model beside English (ORPHEUS_MODELS=en,pretrained): the tiny
Orpheus GGUF stands for the pretrained model, loaded through the real path (models.yaml's entry,
ORPHEUS_MODEL_PATHS, the memory plan), with the larger context, warmed up without a voice, and its
custom voices resolved and listed once a voice book is attached."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.config.settings import Settings
from coordinator.errors import InvalidInputError
from coordinator.orpheus.clone import ClonedVoice, ReferenceSample
from coordinator.runtime.loading import load_runtime
from coordinator.runtime.memory_plan import context_per_sequence

REFERENCE_FRAMES = 10


class _Book:
    def __init__(self, *voices: ClonedVoice) -> None:
        self._voices = list(voices)

    def find(self, name: str) -> ClonedVoice | None:
        return next(
            (v for v in self._voices if name in (v.id,) or v.name.casefold() == name.casefold()), None
        )

    def voices(self) -> list[ClonedVoice]:
        return list(self._voices)


@pytest.fixture(scope="module")
def runtime(model_env, orpheus_gguf):
    env = {
        **model_env,
        "ORPHEUS_MODELS": "en,pretrained",
        "ORPHEUS_MODEL_PATHS": f"pretrained={orpheus_gguf}",
        "MEMORY_BUDGET_GB": "1000",
        "VOICE_REFERENCE_MAX_S": "10",
    }
    runtime = load_runtime(Settings(_env_file=None, **{k.lower(): v for k, v in env.items()}))
    yield runtime
    runtime.close()


def test_the_cloning_model_loads_beside_english_with_room_for_its_references(runtime):
    assert [m.key for m in runtime.speech] == ["en", "pretrained"]
    en, pretrained = runtime.speech
    assert runtime.speech.default is en and runtime.speech.cloning is pretrained
    assert pretrained.clones and pretrained.voices == [] and pretrained.tts.clones
    assert not en.tts.clones
    assert en.tts.engine.n_ctx_per_seq >= runtime.settings.n_ctx
    assert pretrained.tts.engine.n_ctx_per_seq >= context_per_sequence(runtime.settings, clones=True)
    assert pretrained.tts.engine.n_ctx_per_seq > en.tts.engine.n_ctx_per_seq


def test_warm_up_runs_every_engine_though_the_cloning_model_has_no_voice(runtime):
    runtime.warm_up()


def test_custom_voices_are_resolved_and_listed_once_the_book_is_attached(runtime):
    frames = np.random.default_rng(1).integers(0, 4096, (REFERENCE_FRAMES, 7))
    anna = ClonedVoice("voice_abc123", "Anna", (ReferenceSample("Hello.", frames),), created_at=0)
    with pytest.raises(InvalidInputError, match="unknown voice 'anna'"):
        runtime.resolve_voice("anna")
    runtime.speech.attach_voices(_Book(anna))
    resolved = runtime.resolve_voice("Anna")
    assert (resolved.model.key, resolved.voice, resolved.spoken) == ("pretrained", "voice_abc123", anna)
    assert runtime.resolve_voice("tara").model.key == "en"
    listing = runtime.speech.voice_listing()
    assert [(v.id, v.model, v.custom) for v in listing if v.custom] == [
        ("voice_abc123", "orpheus-3b-pretrained", True)
    ]
    assert listing[0].id == "tara" and listing[0].default
