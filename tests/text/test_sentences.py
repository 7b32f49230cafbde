import re

import pytest

from coordinator.orpheus.layout import EMOTION_TAGS
from coordinator.text.sentences import SentenceBuffer, split_sentences, utterances


def _words(text):
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there. How are you?", ["Hello there.", "How are you?"]),
        (
            "Dr. Smith paid 3.5 dollars, e.g. a lot. Then he left!",
            ["Dr. Smith paid 3.5 dollars, e.g. a lot.", "Then he left!"],
        ),
        ("It costs $3.50 at 5 p.m. today. OK?!", ["It costs $3.50 at 5 p.m. today.", "OK?!"]),
        ('He said "stop." She did.', ['He said "stop."', "She did."]),
        ("Wow! <laugh> That was fun... Really.", ["Wow!", "<laugh> That was fun...", "Really."]),
        ("J. R. R. Tolkien wrote it. Yes.", ["J. R. R. Tolkien wrote it.", "Yes."]),
        ("First paragraph\n\nSecond one", ["First paragraph", "Second one"]),
        ("no punctuation at all", ["no punctuation at all"]),
        ("", []),
    ],
)
def test_sentences_split_where_a_reader_would(text, expected):
    assert split_sentences(text) == expected


def test_splitting_loses_no_text_and_never_cuts_a_tag():
    text = " ".join(
        f"Sentence {i} {EMOTION_TAGS[i % 8]} goes here, with a clause; and more." for i in range(40)
    )
    pieces = utterances(text, max_chars=60)
    assert _words(" ".join(pieces)) == _words(text)
    assert all(len(p) <= 60 for p in pieces)
    for piece in pieces:
        assert piece.count("<") == piece.count(">")


def test_an_over_long_sentence_is_cut_at_clauses_then_spaces():
    sentence = "word " * 100 + "end."
    pieces = utterances(sentence, max_chars=50)
    assert all(len(p) <= 50 for p in pieces) and _words(" ".join(pieces)) == _words(sentence)


def test_short_sentences_are_grouped_up_to_the_limit():
    assert utterances("One. Two. Three.", max_chars=9) == ["One. Two.", "Three."]


def test_a_streamed_reply_releases_sentences_only_when_complete():
    buffer = SentenceBuffer()
    released = []
    for piece in ["Hel", "lo Dr", ". Smith. How", " are you", "? Fine", "."]:
        released += buffer.feed(piece)
    assert released == ["Hello Dr. Smith.", "How are you?"]
    assert buffer.flush() == ["Fine."]
    assert buffer.flush() == []
