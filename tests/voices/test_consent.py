"""The consent phrase rule (voices/consent.py; docs/voices.md states it): normalised words, in
order, anywhere in the transcript, at most one word in five wrong, no negation the phrase lacks."""

from __future__ import annotations

import pytest

from coordinator.voices.consent import allowed_errors, phrase_distance, says_phrase, words

PHRASE = "I agree that this server may copy my voice and speak with it."  # 13 words: 2 may be wrong


def test_words_ignore_case_punctuation_apostrophes_and_accents():
    assert words("  I'm OK — Café, déjà-vu!  ") == ["im", "ok", "cafe", "deja", "vu"]
    assert words("I\u2019m") == ["im"]


@pytest.mark.parametrize(
    "heard",
    [
        "I agree that this server may copy my voice and speak with it.",
        "i agree, that this server may copy my voice and speak with it",
        "Okay. I agree that this server may copy my voice and speak with it. Thank you!",
        "I agree that this service may copy my voice and speak with it.",  # one word misheard
        "I agree this server may copy my voice and speak with it.",  # one word dropped
        "I agree that this server may copy my own voice and speak with it.",  # one word added
        "I agree that the server may copy my voice and speak to it.",  # two words misheard
    ],
)
def test_the_phrase_is_heard(heard):
    assert says_phrase(heard, PHRASE)


@pytest.mark.parametrize(
    "heard",
    [
        "",
        "What is the weather like today?",
        "I do not agree that this server may copy my voice.",
        "I do not agree that this server may copy my voice and speak with it.",  # 2 words, negated
        "I don't agree that this server may copy my voice and speak with it.",
        "Never. I agree that this server may copy my voice and speak with it.",
        "I agree that the service can copy a voice and talk with it.",  # too many differences
        "it with speak and voice my copy may server this that agree I",  # the words, out of order
    ],
)
def test_anything_else_is_not(heard):
    assert not says_phrase(heard, PHRASE)


def test_a_short_phrase_must_be_heard_exactly():
    assert allowed_errors(4) == 0 and allowed_errors(5) == 1 and allowed_errors(13) == 2
    assert says_phrase("Well, I consent fully.", "I consent")
    assert not says_phrase("I content", "I consent")


def test_distance_counts_word_edits_with_the_transcript_ends_free():
    assert phrase_distance(["a", "b", "c"], ["x", "a", "b", "c", "y"]) == 0
    assert phrase_distance(["a", "b", "c"], ["a", "x", "c"]) == 1
    assert phrase_distance(["a", "b", "c"], []) == 3
    assert says_phrase("anything at all", "")  # no phrase: nothing to say
