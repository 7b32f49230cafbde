"""The response formats as pure functions of a transcript."""

from __future__ import annotations

import pytest

from coordinator.errors import InvalidInputError
from coordinator.stt.formats import language_code, render, timestamp, to_srt, to_verbose_json, to_vtt
from coordinator.stt.transcript import Segment, Transcript

TRANSCRIPT = Transcript(
    text="Hello there. General Kenobi!",
    language="en",
    duration=3725.5,
    segments=(
        Segment(0, 0.0, 1.25, " Hello there."),
        # A model's last timestamp may overshoot the audio, or go backwards: clamped.
        Segment(1, 1.0, 3730.0, " General\n\nKenobi!"),
    ),
)


def test_timestamps_have_hours_minutes_seconds_and_milliseconds():
    assert timestamp(3725.5, separator=",") == "01:02:05,500"
    assert timestamp(0.0004, separator=".") == "00:00:00.000"


def test_srt_numbers_cues_and_keeps_times_inside_the_audio_and_in_order():
    assert to_srt(TRANSCRIPT) == (
        "1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n"
        "2\n00:00:01,250 --> 01:02:05,500\nGeneral\nKenobi!\n"
    )


def test_vtt_has_its_header_and_dotted_milliseconds():
    assert to_vtt(TRANSCRIPT) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello there.\n\n"
        "00:00:01.250 --> 01:02:05.500\nGeneral\nKenobi!\n"
    )


def test_verbose_json_names_the_language_and_the_task():
    body = to_verbose_json(TRANSCRIPT, task="translate")
    assert body["language"] == "english" and body["task"] == "translate" and body["duration"] == 3725.5
    assert [s["end"] for s in body["segments"]] == [1.25, 3725.5]


def test_json_and_text_formats():
    assert render(TRANSCRIPT, "json").body == {"text": "Hello there. General Kenobi!"}
    text = render(TRANSCRIPT, "text")
    assert text.body == "Hello there. General Kenobi!\n" and text.media_type.startswith("text/plain")


def test_an_empty_transcript_renders_in_every_format():
    empty = Transcript(text="", language="en", duration=1.0)
    assert (
        to_srt(empty) == "" and to_vtt(empty) == "WEBVTT\n\n" and render(empty, "json").body == {"text": ""}
    )


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("en", "en"),
        ("English", "en"),
        ("en-US", "en"),
        ("", None),
        ("auto", None),
        (None, None),
        ("yue", "yue"),
    ],
)
def test_languages_are_accepted_as_codes_names_or_browser_tags(given, code):
    assert language_code(given) == code


def test_an_unknown_language_names_the_parameter():
    with pytest.raises(InvalidInputError) as error:
        language_code("elvish")
    assert error.value.param == "language"
