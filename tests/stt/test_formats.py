"""The response formats as pure functions of a transcript."""

from __future__ import annotations

import pytest

from coordinator.errors import InvalidInputError
from coordinator.stt.formats import (
    TextDeltas,
    language_code,
    render,
    stream_usage,
    timestamp,
    to_srt,
    to_verbose_json,
    to_vtt,
)
from coordinator.stt.transcript import Segment, Transcript, Word

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


def test_verbose_json_has_segments_by_default_and_what_the_granularities_ask_for():
    assert "words" not in to_verbose_json(TRANSCRIPT, task="transcribe")
    words_only = to_verbose_json(TRANSCRIPT, task="transcribe", granularities=["word"])
    assert words_only["words"] == [] and "segments" not in words_only
    both = to_verbose_json(TRANSCRIPT, task="transcribe", granularities=["word", "segment"])
    assert {"words", "segments"} <= set(both)


def test_words_come_out_trimmed_in_order_and_inside_the_audio():
    said = Transcript(
        text="Hi, you there.",
        language="en",
        duration=2.0,
        segments=(
            Segment(0, 0.0, 1.0, " Hi, you", words=(Word(0.0, 0.4, " Hi,"), Word(0.3, 0.9, " you"))),
            # A blank word, and times past the end of the audio.
            Segment(1, 1.0, 2.5, " there.", words=(Word(1.0, 1.0, " "), Word(1.1, 2.6, " there."))),
        ),
    )
    body = render(said, "verbose_json", granularities=["word"]).body
    assert isinstance(body, dict)
    assert body["words"] == [
        {"word": "Hi,", "start": 0.0, "end": 0.4},
        {"word": "you", "start": 0.4, "end": 0.9},
        {"word": "there.", "start": 1.1, "end": 2.0},
    ]


@pytest.mark.parametrize(
    "pieces",
    [
        [" Hello there.", " General", " Kenobi!"],
        ["  ", " Hi", "  ", "", " you ", " "],
        ["", " ", "\n"],
        ["Two  spaces ", "   kept inside."],
    ],
)
def test_text_deltas_joined_are_always_the_transcript_text_so_far(pieces):
    deltas = TextDeltas()
    sent = ""
    for count, piece in enumerate(pieces, start=1):
        sent += deltas.push(piece)
        assert sent == "".join(pieces[:count]).strip()


def test_stream_usage_counts_audio_prompt_and_written_tokens():
    heard = Transcript(
        text="Hi.",
        language="en",
        duration=1.01,
        segments=(Segment(0, 0.0, 1.0, " Hi.", tokens=(50364, 17155, 13, 50414)),),
        prompt_tokens=3,
    )
    assert stream_usage(heard) == {
        "type": "tokens",
        "input_tokens": 51 + 3,  # one audio token per 20 ms, started ones counted
        "output_tokens": 4,
        "total_tokens": 58,
        "input_token_details": {"audio_tokens": 51, "text_tokens": 3},
    }


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
