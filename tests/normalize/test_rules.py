"""The stated rules for the ambiguous cases, the pass-through cases and the span map's pointers."""

from __future__ import annotations

import pytest

from coordinator.normalize.api import spoken_form, warm_up
from coordinator.normalize.numbers import WrittenNumber, read_number
from coordinator.orpheus.layout import EMOTION_TAGS
from tests.normalize.span_checks import check_spans


@pytest.mark.parametrize(
    ("raw", "decimal_mark", "group_marks", "expected"),
    [
        ("1,000", ".", ",", WrittenNumber("1000", None)),  # English: a thousand
        ("1.000", ",", ".", WrittenNumber("1000", None)),  # German: a thousand
        ("1.000", ".", ",", WrittenNumber("1", "000")),  # English: one point zero zero zero
        ("1,000", ",", ".", WrittenNumber("1", "000")),  # German: eins Komma null null null
        ("3.5", ",", ".", WrittenNumber("3", "5")),  # a lone foreign mark not before three digits
        ("1,5", ".", ",", WrittenNumber("1", "5")),
        ("1.234,56", ",", ".", WrittenNumber("1234", "56")),
        ("1,234,567.8", ".", ",", WrittenNumber("1234567", "8")),
        ("1.2.3", ".", ",", None),  # a version: read run by run
        ("12,34", ".", ",", WrittenNumber("12", "34")),
    ],
)
def test_the_marks_of_a_number_are_read_by_the_language_rule(
    raw: str, decimal_mark: str, group_marks: str, expected: WrittenNumber | None
) -> None:
    assert read_number(raw, decimal_mark, group_marks) == expected


def test_indian_grouping_reads_lakhs() -> None:
    assert read_number("12,34,567", ".", ",", indian_grouping=True) == WrittenNumber("1234567", None)
    assert read_number("12,34,567", ".", ",") is None


@pytest.mark.parametrize(
    ("language", "written", "said"),
    [
        # "a/b" with no year: a fraction when a < b <= 10, otherwise two numbers.
        ("en", "1/2", "one half"),
        ("en", "2/3", "two thirds"),
        ("en", "9/11", "nine eleven"),
        # "a/b/yyyy": month first in English, day first in French.
        ("en", "1/2/2024", "January second, twenty twenty-four"),
        ("fr", "1/2/2024", "premier février deux mille vingt-quatre"),
        ("de", "1.2.2024", "ersten Februar zweitausendvierundzwanzig"),
        # A leading zero is read digit by digit; a long ungrouped run too.
        ("en", "0042", "zero zero four two"),
        ("en", "4155550123", "four one five five five five zero one two three"),
        # An impossible date or time is read as its numbers.
        ("en", "13/45/2024", "thirteen/forty-five/two thousand twenty-four"),
        ("en", "25:99", "twenty-five:ninety-nine"),
        # "5 - 3" spaced and counting down is a subtraction; "52-48" a score.
        ("en", "5 - 3", "five minus three"),
        ("en", "52-48", "fifty-two to forty-eight"),
        # Spanish and Italian "°": an ordinal up to ten, past it a temperature.
        ("es", "el 1° de mayo", "el primero de mayo"),
        ("es", "hace 25°", "hace veinticinco grados"),
        ("en", "25° and 120 m²", "twenty-five degrees and one hundred twenty square meters"),
        # German "1" alone is "eins", before a noun "ein".
        ("de", "Seite 1", "Seite eins"),
        ("de", "1 kg", "ein Kilogramm"),
    ],
)
def test_the_ambiguous_cases_follow_the_stated_rule(language: str, written: str, said: str) -> None:
    spoken = spoken_form(written, language)
    assert spoken.text == said
    check_spans(spoken, language)


@pytest.mark.parametrize("language", ["en", "fr", "de", "es", "it", "ko", "zh", "hi"])
@pytest.mark.parametrize("tag", EMOTION_TAGS)
def test_emotion_tags_pass_untouched(language: str, tag: str) -> None:
    written = f"{tag} 3 {tag}"
    spoken = spoken_form(written, language)
    assert spoken.text.startswith(tag + " ")
    assert spoken.text.endswith(" " + tag)


def test_an_unserved_language_and_empty_text_are_spoken_as_written() -> None:
    assert spoken_form("It costs $5.", "sv").text == "It costs $5."
    assert spoken_form("", "en").text == ""
    assert spoken_form("It costs $5.", "en-GB").text == "It costs five dollars."


def test_a_word_inside_a_replaced_number_maps_back_to_the_whole_number() -> None:
    spoken = spoken_form("Pay $12.50 now", "en")
    start = spoken.text.index("fifty")
    assert spoken.original_range(start, start + len("fifty")) == (4, 10)
    kept = spoken.text.index("now")
    # The kept text maps to its verbatim run (" now").
    assert spoken.original_range(kept, kept + 3) == (10, 14)


def test_dropped_emoji_leave_the_map_covering_the_original() -> None:
    spoken = spoken_form("Done 🎉 ok", "en")
    assert spoken.text == "Done ok"
    assert spoken.spans[-1].original_end == len("Done 🎉 ok")


def test_warming_up_changes_no_reading() -> None:
    before = spoken_form("Pay €45 on 5 May", "en")
    warm_up(["en", "fr-FR", "sv"])
    assert spoken_form("Pay €45 on 5 May", "en") == before
