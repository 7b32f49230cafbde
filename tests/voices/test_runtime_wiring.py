"""The runtime reads VOICES_DIR at start: the voices kept there are the runtime's, a corrupt one is
skipped without stopping the start."""

from __future__ import annotations

import asyncio
import logging

import pytest

from coordinator.config.catalog import load_catalog
from coordinator.errors import VoiceConflictError
from coordinator.runtime.loading import Runtime, load_llm
from coordinator.service.voices import voice_cloning
from coordinator.voices.store import META, VoiceStore
from tests.voices.rig import audio_for, random_voice


def test_the_runtime_loads_the_voices_directory_at_start(settings, tts, tmp_path, caplog):
    folder = tmp_path / "voices"
    store = VoiceStore(folder, max_count=5)
    kept, broken = random_voice("voice_" + "1" * 16, "Rose"), random_voice("voice_" + "2" * 16, "Broken")
    for voice in (kept, broken):
        store.add(voice, audio_for(voice))
    (folder / broken.id / META).write_text("{")
    configured = settings.model_copy(update={"voices_dir": folder, "voice_max_count": 5})
    catalog = load_catalog(configured.catalog_path())
    llm = load_llm(configured, catalog)
    try:
        with caplog.at_level(logging.WARNING, logger="coordinator.voices.store"):
            runtime = Runtime(settings=configured, catalog=catalog, tts=tts, llm=llm)
        try:
            assert [v.id for v in runtime.voices.voices()] == [kept.id]
            assert runtime.voices.max_count == 5 and runtime.voices.find("rose") is not None
            assert any(broken.id in r.getMessage() for r in caplog.records)
            # The service over it: a built-in voice's name, an OpenAI name or a model's is refused.
            cloning = voice_cloning(runtime)
            assert cloning.store is runtime.voices
            builtin = runtime.speech.default.voices[0]
            for name in (builtin.upper(), "alloy", runtime.speech.default.model_id):
                with pytest.raises(VoiceConflictError):
                    asyncio.run(cloning.create(name, [b"unread"], ["text"], None))
        finally:
            runtime.snac.close()
    finally:
        llm.close()
