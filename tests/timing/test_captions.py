"""WebVTT and SRT from word timings."""

from coordinator.timing.align import WordTiming
from coordinator.timing.captions import cues, srt, webvtt


def _words(*items: tuple[str, float, float]) -> list[WordTiming]:
    return [WordTiming(text, start, end, 0, len(text)) for text, start, end in items]


WORDS = _words(
    ("Hello", 0.0, 0.4), ("there.", 0.5, 0.9), ("How", 1.2, 1.4), ("are", 1.4, 1.5), ("you?", 1.5, 1.9)
)


def test_webvtt_has_its_header_and_a_cue_per_sentence():
    assert webvtt(WORDS) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:00.900\nHello there.\n\n"
        "00:00:01.200 --> 00:00:01.900\nHow are you?\n"
    )


def test_times_past_an_hour_count_hours():
    assert "01:01:01.250 --> 01:01:02.000" in webvtt(_words(("late", 3661.25, 3662.0)))


def test_srt_numbers_its_cues_and_uses_a_comma_before_the_milliseconds():
    assert srt(WORDS[:2]) == "1\n00:00:00,000 --> 00:00:00,900\nHello there.\n"


def test_a_long_run_of_words_is_cut_into_cues_of_a_line_each():
    words = _words(*((f"word{i}", i * 0.3, i * 0.3 + 0.2) for i in range(20)))
    made = cues(words)
    assert len(made) > 1 and all(len(cue.text) <= 42 for cue in made)
    assert " ".join(cue.text for cue in made) == " ".join(w.text for w in words)


def test_no_words_make_an_empty_document():
    assert webvtt([]) == "WEBVTT\n" and srt([]) == ""
