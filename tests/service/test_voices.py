"""The cloning service without a door: recordings prepared, a missing transcript written by a
REAL Whisper (Systran's faster-whisper tiny.en from the test extra), the consent phrase heard,
SNAC frames from a random-weight SNAC's real encoder, names and limits enforced, the voice kept."""

from __future__ import annotations

import asyncio
import re
import threading

import numpy as np
import pytest

from coordinator.errors import (
    CancelledError,
    InvalidInputError,
    ModelNotFoundError,
    VoiceConflictError,
    VoiceNotFoundError,
)
from coordinator.orpheus.clone import SAMPLES_PER_FRAME
from coordinator.service.voices import VoiceCloning, VoiceLimits
from coordinator.voices.sample import SAMPLE_RATE, prepare
from coordinator.voices.store import VoiceStore
from tests.rig.audio_samples import encode, noise_bursts
from tests.rig.real_whisper import english_recogniser
from tests.voices.rig import FOX, KITCHEN, LONG_FOX, SHORT, WEATHER, sentences, snac_encode

CONSENT = "The quick brown fox jumps over the lazy dog"  # what tests/rig/speech/ has recorded
RESERVED = {"tara", "Alloy", "orpheus"}
NOW = 1_750_000_000


@pytest.fixture(scope="module")
def whisper():
    recogniser = english_recogniser()
    yield recogniser
    recogniser.close()


@pytest.fixture(scope="module")
def sample() -> bytes:
    speech, rate = sentences(FOX, WEATHER)
    return encode(speech, rate, "ogg")


@pytest.fixture(scope="module")
def heard_sample() -> bytes:
    """Speech whisper tiny.en hears word for word (it mishears espeak-ng's "brown fox")."""
    speech, rate = sentences(WEATHER, KITCHEN)
    return encode(speech, rate, "ogg")


@pytest.fixture(scope="module")
def other_sample() -> bytes:
    speech, rate = sentences(LONG_FOX)
    return encode(speech, rate, "mp3")


def _spelled(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _service(tmp_path, stt=None, *, max_count: int = 10, encoder=snac_encode, **limits) -> VoiceCloning:
    store = VoiceStore(tmp_path / "voices", max_count=max_count)
    store.load()
    return VoiceCloning(
        store,
        encode=encoder,
        limits=VoiceLimits(**limits),
        stt=stt,
        reserved_names=lambda: RESERVED,
        now=lambda: NOW,
    )


def _create(service: VoiceCloning, name: str, samples, transcripts=(), consent=None):
    return asyncio.run(service.create(name, list(samples), list(transcripts), consent))


def test_a_missing_transcript_is_written_by_the_servers_whisper(tmp_path, whisper, heard_sample):
    service = _service(tmp_path, whisper)
    voice = _create(service, "Kitchen", [heard_sample])
    assert voice.id.startswith("voice_") and voice.name == "Kitchen" and voice.created_at == NOW
    assert voice.language == "en"
    (reference,) = voice.samples
    assert _spelled(reference.transcript) == _spelled(f"{WEATHER} {KITCHEN}")
    # The frames are the encoder's, of the prepared (trimmed) audio: about its length in frames.
    frames = reference.frames
    assert frames.dtype == np.int64 and frames.shape[1] == 7 and frames.min() >= 0 and frames.max() < 4096
    seconds = frames.shape[0] * SAMPLES_PER_FRAME / SAMPLE_RATE
    assert 3.0 < seconds < 6.0
    # Kept: a new store on the same folder has it, frames and transcript alike.
    again = VoiceStore(tmp_path / "voices", max_count=10)
    again.load()
    kept = again.get(voice.id)
    assert kept.samples[0].transcript == reference.transcript
    assert np.array_equal(kept.samples[0].frames, frames)
    assert service.list() == [voice] and service.get(voice.id) is voice


def test_given_transcripts_are_kept_and_need_no_whisper(tmp_path, sample, other_sample):
    service = _service(tmp_path, stt=None)
    voice = _create(
        service, "Two Takes", [sample, other_sample], ["  What I said first.  ", "And then this."]
    )
    assert [s.transcript for s in voice.samples] == ["What I said first.", "And then this."]
    assert len(voice.samples) == 2 and voice.reference_seconds > 8


def test_with_no_whisper_a_missing_transcript_names_both_fixes(tmp_path, sample):
    with pytest.raises(ModelNotFoundError) as info:
        _create(_service(tmp_path, stt=None), "Rose", [sample], [None])
    assert "Whisper" in info.value.message and "transcript" in info.value.message


def test_consent_off_needs_no_consent_recording(tmp_path, whisper, sample):
    voice = _create(_service(tmp_path, whisper), "Rose", [sample], ["text"])
    assert voice.name == "Rose"


def test_consent_on_without_a_consent_recording_names_the_phrase(tmp_path, whisper, sample):
    with pytest.raises(InvalidInputError) as info:
        _create(_service(tmp_path, whisper, consent_phrase=CONSENT), "Rose", [sample], ["text"])
    assert info.value.param == "consent" and CONSENT in info.value.message
    assert "VOICE_CONSENT_PHRASE" in info.value.message


def test_consent_on_a_recording_that_says_the_phrase_creates_the_voice(tmp_path, whisper, sample):
    speech, rate = sentences(FOX)
    consent = encode(speech, rate, "webm")
    voice = _create(_service(tmp_path, whisper, consent_phrase=CONSENT), "Rose", [sample], ["text"], consent)
    assert voice.name == "Rose"


def test_consent_on_a_recording_that_says_something_else_is_refused(tmp_path, whisper, sample):
    speech, rate = sentences(WEATHER)
    consent = encode(speech, rate, "wav")
    service = _service(tmp_path, whisper, consent_phrase=CONSENT)
    with pytest.raises(InvalidInputError) as info:
        _create(service, "Rose", [sample], ["text"], consent)
    assert info.value.param == "consent" and "does not say" in info.value.message
    assert "weather" in info.value.message.lower()  # what the server heard, to help the speaker
    assert service.list() == [] and not list((tmp_path / "voices").glob("voice_*"))


def test_two_creations_of_one_name_at_once_one_wins_one_409(tmp_path, sample):
    service = _service(tmp_path)

    async def both():
        return await asyncio.gather(
            service.create("Twin", [sample], ["one"], None),
            service.create("twin", [sample], ["two"], None),
            return_exceptions=True,
        )

    outcomes = asyncio.run(both())
    conflicts = [o for o in outcomes if isinstance(o, VoiceConflictError)]
    created = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(conflicts) == 1 and len(created) == 1
    assert [v.id for v in service.list()] == [created[0].id]
    # Once the first is done the name is simply taken.
    with pytest.raises(VoiceConflictError):
        _create(service, "TWIN", [sample], ["three"])


@pytest.mark.parametrize("name", ["tara", "TARA", "alloy", " Orpheus "])
def test_reserved_names_are_a_409(tmp_path, sample, name):
    with pytest.raises(VoiceConflictError) as info:
        _create(_service(tmp_path), name, [sample], ["text"])
    assert info.value.param == "name" and "built-in voice" in info.value.message


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "voice_0123456789abcdef", "tab\there"])
def test_bad_names_are_a_400(tmp_path, sample, name):
    with pytest.raises(InvalidInputError) as info:
        _create(_service(tmp_path), name, [sample], ["text"])
    assert info.value.param == "name"


def test_sample_count_and_total_reference_limits(tmp_path, sample, other_sample):
    service = _service(tmp_path, max_samples=2, reference_max_s=8.0)
    with pytest.raises(InvalidInputError) as info:
        _create(service, "Rose", [sample] * 3, ["a", "b", "c"])
    assert "VOICE_MAX_SAMPLES" in info.value.message
    with pytest.raises(InvalidInputError) as info:
        _create(service, "Rose", [sample, other_sample], ["a", "b"])
    assert "VOICE_REFERENCE_MAX_S" in info.value.message
    with pytest.raises(InvalidInputError) as info:
        _create(service, "Rose", [], [])
    assert info.value.param == "audio_sample"
    with pytest.raises(InvalidInputError) as info:
        _create(service, "Rose", [sample], ["a", "b"])
    assert info.value.param == "transcript"
    assert service.list() == []


def test_the_count_limit_is_a_409(tmp_path, sample):
    service = _service(tmp_path, max_count=1)
    _create(service, "One", [sample], ["text"])
    with pytest.raises(VoiceConflictError) as info:
        _create(service, "Two", [sample], ["text"])
    assert "VOICE_MAX_COUNT" in info.value.message


def test_a_bad_sample_is_a_400_naming_it_and_frees_the_name(tmp_path, sample):
    service = _service(tmp_path)
    speech, rate = sentences(SHORT)
    noise = encode(noise_bursts(22_050, bursts=8), 22_050, "wav")
    with pytest.raises(InvalidInputError) as info:
        _create(service, "Rose", [sample, noise], ["a", "b"])
    assert info.value.param == "audio_sample[1]"
    with pytest.raises(InvalidInputError) as info:
        _create(service, "Rose", [encode(speech, rate, "wav")], ["a"])
    assert "VOICE_SAMPLE_MIN_S" in info.value.message
    assert _create(service, "Rose", [sample], ["a"]).name == "Rose"


def test_an_encoder_failure_leaves_no_voice(tmp_path, sample):
    def broken(audio):
        raise RuntimeError("the GPU fell over")

    service = _service(tmp_path, encoder=broken)
    with pytest.raises(RuntimeError):
        _create(service, "Rose", [sample], ["text"])
    assert service.list() == []


def test_delete_and_get_of_an_unknown_voice(tmp_path, sample):
    service = _service(tmp_path)
    voice = _create(service, "Rose", [sample], ["text"])
    assert asyncio.run(service.delete(voice.id)) is voice
    assert service.list() == []
    with pytest.raises(VoiceNotFoundError):
        service.get(voice.id)
    with pytest.raises(VoiceNotFoundError):
        asyncio.run(service.delete(voice.id))


def test_a_cancelled_creation_stops_its_decoder_and_frees_the_name(tmp_path, sample):
    started, stopped = threading.Event(), threading.Event()

    def slow_prepare(data, *, min_s, max_s, param, stop):
        started.set()
        if stop.wait(timeout=30):  # what the decoder's wait loop does: the child is killed
            stopped.set()
        raise CancelledError("the decode was cancelled")

    service = _service(tmp_path)
    service._prepare = slow_prepare

    async def cancel_midway():
        task = asyncio.ensure_future(service.create("Rose", [sample], ["text"], None))
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    assert stopped.wait(timeout=30)
    service._prepare = prepare
    assert _create(service, "Rose", [sample], ["text"]).name == "Rose"
