"""Sentence splitting for speech: abbreviation-aware, never inside an emotion tag, losing no text.

Used twice: to cut long /v1/audio/speech input into utterances Orpheus speaks well, and to cut a
streaming chat reply into sentences that can be spoken while the rest is still being written.
"""

from __future__ import annotations

import re

# Lower-cased words that end in "." without ending a sentence.
ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "cf",
        "al",
        "approx",
        "dept",
        "est",
        "fig",
        "inc",
        "ltd",
        "co",
        "corp",
        "no",
        "nos",
        "vol",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "u.s",
        "u.k",
        "a.m",
        "p.m",
        "ph.d",
    ]
)
# End punctuation (with closing quotes/brackets) followed by whitespace is a candidate boundary;
# so is a blank line.
_BOUNDARY = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s)|\n\s*\n""")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_CLAUSE_BREAK = re.compile(r"[,;:—–]\s")
_TAG = re.compile(r"<[^<>\s]{1,20}>")

# Orpheus speaks roughly 14 characters a second; 250 characters ≈ 18 s, well inside one
# generation's default 2000 tokens (≈ 24 s), with room for slow or tag-heavy text.
MAX_UTTERANCE_CHARS = 250
# Utterances one request may be spoken in (each may generate up to TTS_MAX_TOKENS). Neighbouring
# utterances hold more than MAX_UTTERANCE_CHARS together, so OpenAI's 4096-character input is at
# most 33 of them: the default never refuses what OpenAI accepts, yet bounds a request's work.
DEFAULT_MAX_UTTERANCES = 64


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the "." at ``dot`` closes an abbreviation or an initial rather than a sentence."""
    match = _WORD_BEFORE.search(text, 0, dot)
    if match is None:
        return False
    word = match.group(1).lower().rstrip(".")
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, stripped; joining them with spaces restores the words."""
    sentences, start = [], 0
    for match in _BOUNDARY.finditer(text):
        punctuation = match.group(0)
        if punctuation == "." and _is_abbreviation(text, match.start()):
            continue
        sentence = text[start : match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _break_points(sentence: str) -> list[int]:
    """Where an over-long sentence may be cut: after clause punctuation, else at spaces outside tags."""
    inside_tag: set[int] = set()
    for tag in _TAG.finditer(sentence):
        inside_tag.update(range(tag.start(), tag.end()))
    clauses = [m.start() + 1 for m in _CLAUSE_BREAK.finditer(sentence)]
    spaces = [i for i, ch in enumerate(sentence) if ch.isspace() and i not in inside_tag]
    return clauses or spaces


def _cut_long(sentence: str, max_chars: int) -> list[str]:
    pieces = []
    while len(sentence) > max_chars:
        points = [p for p in _break_points(sentence) if 0 < p <= max_chars] or [
            p for p in _break_points(sentence) if p > 0
        ][:1]
        if not points:
            break  # one unbreakable word: speak it whole
        cut = max(points)
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    return [*pieces, sentence] if sentence else pieces


def utterances(text: str, max_chars: int = MAX_UTTERANCE_CHARS) -> list[str]:
    """Group sentences into utterances of at most ``max_chars`` (a longer sentence is cut at a
    clause or a space), in order, losing no text."""
    result: list[str] = []
    for sentence in split_sentences(text):
        for piece in _cut_long(sentence, max_chars):
            if result and len(result[-1]) + 1 + len(piece) <= max_chars:
                result[-1] = f"{result[-1]} {piece}"
            else:
                result.append(piece)
    return result


class SentenceBuffer:
    """Collects streamed text and releases each sentence once it is certainly complete."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> list[str]:
        self._pending += text
        sentences = split_sentences(self._pending)
        if len(sentences) <= 1:
            return []
        # The last piece may still grow; everything before it ended at a confirmed boundary.
        last = sentences[-1]
        self._pending = self._pending[self._pending.rindex(last) :]
        return sentences[:-1]

    def flush(self) -> list[str]:
        rest, self._pending = self._pending.strip(), ""
        return [rest] if rest else []
