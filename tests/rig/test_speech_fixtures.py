"""The recorded test speech: the manifest matches the sentences the regeneration script speaks, and
every file is there, mono, at its recorded rate, with sound in it."""

import json

import numpy as np
import pytest
import soundfile as sf

from tests.rig.audio_samples import spoken
from tests.rig.make_speech_fixtures import MANIFEST, SENTENCES, SPEECH_DIR, VOICE, file_name

# Sound, not silence: espeak-ng's speech peaks far above this.
MIN_PEAK = 0.1
# Kept small in the repository (384 KB for the seven sentences when recorded).
MAX_TOTAL_BYTES = 1_000_000


def test_the_manifest_lists_every_sentence_of_the_script_and_nothing_else():
    entries = json.loads(MANIFEST.read_text())["sentences"]
    assert [(entry["text"], entry["voice"]) for entry in entries] == [(text, VOICE) for text in SENTENCES]
    assert sorted(path.name for path in SPEECH_DIR.glob("*.flac")) == sorted(
        entry["file"] for entry in entries
    )
    assert sum(path.stat().st_size for path in SPEECH_DIR.iterdir()) < MAX_TOTAL_BYTES


@pytest.mark.parametrize("text", SENTENCES)
def test_every_sentence_replays_as_float32_mono_speech(text):
    samples, rate = spoken(text)
    info = sf.info(SPEECH_DIR / file_name(text, VOICE))
    assert (info.channels, info.format, info.subtype) == (1, "FLAC", "PCM_16")
    assert samples.dtype == np.float32 and samples.ndim == 1 and samples.size == info.frames
    assert rate == info.samplerate and np.abs(samples).max() > MIN_PEAK


def test_a_sentence_never_recorded_fails_naming_the_command_that_records_it():
    with pytest.raises(pytest.fail.Exception, match=r"python -m tests\.rig\.make_speech_fixtures"):
        spoken("A sentence nobody recorded.")
