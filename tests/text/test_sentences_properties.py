"""Properties of sentence splitting over any text: nothing lost, tags whole, streaming = one-shot.

The documented whitespace rule: pieces are stripped, so joining them with single spaces restores
the text up to runs of whitespace (each run becomes one space; none at the ends).
"""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.orpheus.layout import EMOTION_TAGS
from coordinator.text.sentences import SentenceBuffer, split_sentences, utterances

PROPERTY = settings(derandomize=True, max_examples=400, deadline=None)

# Pieces chosen to hit every rule: end punctuation, closing quotes, abbreviations, initials,
# blank lines, clause breaks, tags (and things that look like tags), odd whitespace.
fragments = st.one_of(
    st.sampled_from(
        [
            "Hello",
            "world",
            "Dr",
            "Mr.",
            "e.g.",
            "U.S.",
            "J.",
            "p.m.",
            "3.5",
            "a",
            ".",
            "!",
            "?",
            "...",
            "…",
            "?!",
            '"',
            "'",
            "”",
            ")",
            "]",
            ",",
            ";",
            ":",
            "—",
            " ",
            "  ",
            "\n",
            "\n\n",
            "\t",
            "\u00a0",
            "\u2028",
            "\r\n",
            "<",
            ">",
            "<b>",
            "<not a tag>",
        ]
    ),
    st.sampled_from(EMOTION_TAGS),
    st.text(max_size=6),
)
texts = st.lists(fragments, max_size=60).map("".join)


def _words(text):
    return re.sub(r"\s+", " ", text).strip()


def _tag_count(pieces):
    return sum(piece.count(tag) for piece in pieces for tag in EMOTION_TAGS)


@PROPERTY
@given(text=texts)
def test_splitting_loses_no_text(text):
    pieces = split_sentences(text)
    assert _words(" ".join(pieces)) == _words(text)
    assert all(piece and piece == piece.strip() for piece in pieces)


@PROPERTY
@given(text=texts, max_chars=st.integers(1, 80))
def test_utterances_lose_no_text_and_never_split_a_tag(text, max_chars):
    pieces = utterances(text, max_chars=max_chars)
    assert _words(" ".join(pieces)) == _words(text)
    assert all(piece and piece == piece.strip() for piece in pieces)
    assert _tag_count(pieces) == _tag_count([text])


@PROPERTY
@given(text=texts)
def test_emotion_tags_are_never_split_between_sentences(text):
    assert _tag_count(split_sentences(text)) == _tag_count([text])


@PROPERTY
@given(text=texts, data=st.data())
def test_streamed_splitting_equals_one_shot_splitting_for_any_chunking(text, data):
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=12)))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    buffer = SentenceBuffer()
    streamed = [sentence for chunk in chunks for sentence in buffer.feed(chunk)] + buffer.flush()
    assert streamed == split_sentences(text)
