"""The transcription service without any door: the checks every door's request passes, an
upload admitted before it is decoded, segments as they are decoded, and a raw stream's samples.

The tiny random Whisper's words are meaningless: these tests check what the service does with
them (slots, order, errors), never what it heard.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace

import numpy as np
import pytest

from coordinator.errors import GenerationError, InvalidInputError, QueueFullError, UnknownModelError
from coordinator.service import transcription
from coordinator.service.transcription import TranscriptionOptions
from coordinator.stt.audio import InvalidAudioError, PcmResampler
from coordinator.stt.engine import SpeechToText
from coordinator.stt.isolated import decode_isolated
from coordinator.stt.transcript import SAMPLE_RATE, Segment, Transcript
from tests.rig.audio_samples import encode, noise_bursts, spoken
from tests.rig.waiting import eventually
from tests.server.stt_doubles import FailsAfterFirstSegment, busy_recogniser

MAX_SECONDS = 60.0
# How long a cancelled transcription's thread may take to stop and free its slot, on a loaded machine.


@pytest.fixture(scope="module")
def sentence():
    return spoken("The quick brown fox jumps over the lazy dog.")


@pytest.fixture(scope="module")
def wav(sentence):
    return encode(*sentence, "wav")


@pytest.fixture(scope="module")
def segmented_wav():
    """Noise in bursts: the tiny model writes several segments for it."""
    return encode(noise_bursts(SAMPLE_RATE, bursts=60), SAMPLE_RATE, "wav")


def _wait_until_free(stt: SpeechToText) -> None:
    # How soon is not asserted (a loaded machine is slower, not wrong): only that it happens.
    eventually(lambda: not stt.busy, "the slot was freed")


@pytest.mark.parametrize("name", ["", "whisper-1", "gpt-4o-transcribe"])
def test_the_names_clients_send_by_default_are_this_recogniser(stt, name):
    transcription.check(TranscriptionOptions(model=name), stt)


def test_another_model_is_refused_naming_what_to_send(stt):
    with pytest.raises(UnknownModelError) as refused:
        transcription.check(TranscriptionOptions(model="tts-1"), stt)
    assert refused.value.param == "model" and stt.model_id in refused.value.message


@pytest.mark.parametrize(
    "options, param",
    [
        (TranscriptionOptions(granularities=("word",), response_format="json"), "timestamp_granularities"),
        (TranscriptionOptions(stream=True, response_format="srt"), "stream"),
    ],
)
def test_a_combination_openai_refuses_is_refused_before_the_model_is_asked(stt, options, param):
    # The model named is wrong too: the combination is what the error names.
    with pytest.raises(InvalidInputError) as refused:
        transcription.check(replace(options, model="tts-1"), stt)
    assert refused.value.param == param


def test_an_upload_becomes_a_transcript_of_its_length(stt, wav):
    transcript = asyncio.run(
        transcription.transcribe(stt, wav, TranscriptionOptions(), max_seconds=MAX_SECONDS)
    )
    samples, rate = spoken("The quick brown fox jumps over the lazy dog.")
    assert isinstance(transcript.text, str)
    assert transcript.duration == pytest.approx(samples.size / rate, abs=0.1)
    assert stt.busy == 0


def test_a_translation_ignores_the_language_given(stt, wav):
    """A translation is written in English whatever was said: a language field is not read, not
    even one Whisper does not know (which a transcription refuses)."""
    unknown = "Klingon"
    with pytest.raises(InvalidInputError, match="language"):
        asyncio.run(
            transcription.transcribe(
                stt, wav, TranscriptionOptions(language=unknown), max_seconds=MAX_SECONDS
            )
        )
    translate = TranscriptionOptions(language=unknown, task="translate")
    assert isinstance(
        asyncio.run(transcription.transcribe(stt, wav, translate, max_seconds=MAX_SECONDS)), Transcript
    )


def test_an_error_about_the_audio_names_the_field_that_carried_it(stt):
    with pytest.raises(InvalidAudioError) as refused:
        asyncio.run(transcription.transcribe_bytes(stt, b"not audio", max_seconds=MAX_SECONDS, param="audio"))
    assert refused.value.param == "audio" and refused.value.message.startswith("audio ")
    assert stt.busy == 0


def test_audio_longer_than_the_limit_is_refused(stt, wav):
    with pytest.raises(InvalidInputError, match="MAX_AUDIO_SECONDS"):
        asyncio.run(transcription.transcribe_bytes(stt, wav, max_seconds=0.5))


def test_an_upload_refused_by_a_full_queue_was_never_decoded(stt, wav, monkeypatch):
    decodes = []
    monkeypatch.setattr(
        transcription,
        "decode_isolated",
        lambda *args, **kwargs: decodes.append(1) or decode_isolated(*args, **kwargs),
    )
    with busy_recogniser(stt, max_queue=0, queue_timeout_s=5) as busy, pytest.raises(QueueFullError):
        asyncio.run(transcription.transcribe_bytes(busy, wav, max_seconds=MAX_SECONDS))
    assert decodes == []


def test_segments_come_as_decoded_then_the_transcript_they_make(stt, segmented_wav):
    async def heard() -> list[Segment | Transcript]:
        options = TranscriptionOptions(stream=True)
        return [
            item
            async for item in transcription.transcribe_streamed(
                stt, segmented_wav, options, max_seconds=MAX_SECONDS
            )
        ]

    items = asyncio.run(heard())
    *segments, transcript = items
    assert segments and all(isinstance(segment, Segment) for segment in segments)
    assert isinstance(transcript, Transcript)
    assert tuple(segments) == transcript.segments
    assert stt.busy == 0


def test_closing_the_stream_after_its_first_segment_frees_the_slot(stt, segmented_wav):
    async def first_then_leave() -> Segment | Transcript:
        stream = transcription.transcribe_streamed(
            stt, segmented_wav, TranscriptionOptions(stream=True), max_seconds=MAX_SECONDS
        )
        first = await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        return first

    assert isinstance(asyncio.run(first_then_leave()), Segment)
    _wait_until_free(stt)


def test_a_failure_after_the_first_segment_ends_the_stream_with_it(stt, segmented_wav):
    failing = SpeechToText(FailsAfterFirstSegment(stt.transcriber), slots=1, max_queue=1, queue_timeout_s=5)

    async def heard(items: list[Segment | Transcript]) -> None:
        options = TranscriptionOptions(stream=True)
        async for item in transcription.transcribe_streamed(
            failing, segmented_wav, options, max_seconds=MAX_SECONDS
        ):
            items.append(item)

    items: list[Segment | Transcript] = []
    try:
        with pytest.raises(GenerationError, match="logged"):
            asyncio.run(heard(items))
        assert [type(item) for item in items] == [Segment]
    finally:
        failing.close()


def test_rendering_gives_segment_timings_unless_words_are_asked(stt, wav):
    transcript = asyncio.run(
        transcription.transcribe(stt, wav, TranscriptionOptions(), max_seconds=MAX_SECONDS)
    )
    timed = transcription.rendered(transcript, TranscriptionOptions(response_format="verbose_json"))
    assert isinstance(timed.body, dict) and "segments" in timed.body and "words" not in timed.body
    as_text = transcription.rendered(transcript, TranscriptionOptions(response_format="text"))
    assert as_text.body == transcript.text + "\n"


def test_a_raw_streams_samples_are_transcribed_on_a_slot(stt):
    samples, rate = spoken("Turn on the kitchen lights, please.")
    at_16k = PcmResampler(rate).process(samples)
    transcription.check_language(stt, None)
    transcript = asyncio.run(transcription.transcribe_samples(stt, at_16k, language=None))
    assert transcript.duration == pytest.approx(at_16k.size / SAMPLE_RATE)
    assert transcript.language  # detected
    assert stt.busy == 0


def test_nothing_recorded_is_an_empty_transcript_without_a_slot(stt):
    """Even with the only slot taken and no queue, nothing said is answered at once."""
    with busy_recogniser(stt, max_queue=0, queue_timeout_s=5) as busy:
        transcript = asyncio.run(
            transcription.transcribe_samples(busy, np.zeros(0, np.float32), language=None)
        )
    assert transcript.text == "" and transcript.language == ""


def test_a_language_an_english_only_model_lacks_is_refused_before_any_samples(stt):
    english_only = copy.copy(stt.transcriber)
    english_only.multilingual = False
    recogniser = SpeechToText(english_only, slots=1, max_queue=1, queue_timeout_s=5)
    try:
        transcription.check_language(recogniser, "en")
        with pytest.raises(InvalidInputError) as refused:
            transcription.check_language(recogniser, "de")
        assert refused.value.param == "language"
    finally:
        recogniser.close()
