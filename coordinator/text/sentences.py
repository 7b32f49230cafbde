"""Sentence splitting for speech: abbreviation-aware, never inside an emotion tag, losing no text.

Used twice: to cut long /v1/audio/speech input into utterances Orpheus speaks well, and to cut a
streaming chat reply into sentences that can be spoken while the rest is still being written.
"""

from __future__ import annotations

import re


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Lower-cased words that end in "." without ending a sentence, per language. Text in every
# language quotes English names and titles, so English's list applies beside each language's own.
ABBREVIATIONS = _word_set(
    "mr mrs ms dr prof sr jr st mt vs etc e.g i.e cf al approx dept est fig inc ltd co corp no nos "
    "vol jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun u.s u.k a.m "
    "p.m ph.d"
)
LANGUAGE_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "fr": _word_set("m mm mme mmes mlle mlles me dr pr st ste cf ex p.ex env av apr j.-c n°"),
    "de": _word_set(
        "hr fr frl dr prof nr str bzw usw z.b d.h u.a ca evtl ggf inkl vgl bsp sog s.o s.u"
        " jh jhd mio mrd tel abs"
    ),
    "es": _word_set("sr sra srta sres dr dra ud uds d dña lic ing pág núm etc p.ej aprox av avda"),
    "it": _word_set("sig sig.ra sig.na dott dott.ssa prof ing avv ecc es pag n p.es cfr"),
}
# Scripts written without spaces between words or sentences: sentences join with nothing, a
# long sentence may be cut between any two characters, and 。！？ end a sentence with no space after.
UNSPACED_LANGUAGES = frozenset({"zh", "ja"})

# End punctuation (with closing quotes/brackets) followed by whitespace is a candidate boundary;
# so is a blank line; so is the full stop, question and exclamation mark of Chinese and Japanese
# (。！？ and their half-width forms) and the Devanagari danda (। ॥) once anything but more
# punctuation follows them (a closing quote may still arrive in the next streamed piece).
_CLOSERS = "\"'”’)\\]」』）】"
_BOUNDARY = re.compile(
    rf"""[.!?…]+[{_CLOSERS}]*(?=\s)|[。！？｡।॥]+[.!?…]*[{_CLOSERS}]*(?=[^.!?…。！？｡।॥{_CLOSERS}])|\n\s*\n""",
    re.DOTALL,
)
_WORD_BEFORE = re.compile(r"([\w.°-]+)$")
_NUMBER_BEFORE = re.compile(r"(?<![\w.])([0-9]{1,2})$")
_DIGITS_BEFORE = re.compile(r"[0-9]$")
_NEXT_VISIBLE = re.compile(r"\s*(\S)")
_CLAUSE_BREAK = re.compile(r"[,;:—–]\s|[，、；：]")
_TAG = re.compile(r"<[^<>\s]{1,20}>")

# Orpheus speaks roughly 14 characters a second; 250 characters ≈ 18 s, well inside one
# generation's default 2000 tokens (≈ 24 s), with room for slow or tag-heavy text.
MAX_UTTERANCE_CHARS = 250
# A Chinese or Japanese character is a syllable or more (about 4-5 a second spoken), a Korean
# one a syllable: the same ~18 s of speech holds far fewer of them.
LANGUAGE_UTTERANCE_CHARS = {"zh": 80, "ja": 80, "ko": 120}
# Utterances one request may be spoken in (each may generate up to TTS_MAX_TOKENS). Neighbouring
# utterances hold more than MAX_UTTERANCE_CHARS together, so OpenAI's 4096-character input is at
# most 33 of them: the default never refuses what OpenAI accepts, yet bounds a request's work.
DEFAULT_MAX_UTTERANCES = 64
DEFAULT_LANGUAGE = "en"
# Days and months written as ordinals ("am 3. Oktober") have at most two digits.
_ORDINAL_LANGUAGES = frozenset({"de"})
# Korean writes dates as "2024. 3. 1.": a full stop between numbers does not end a sentence.
_DOTTED_DATE_LANGUAGES = frozenset({"ko"})
# Spanish opens a question or exclamation inside a sentence ("Dijo ¡qué bien! y se fue"): a ? or
# ! followed by a lower-case word closes only that clause.
_INNER_EXCLAMATION_LANGUAGES = frozenset({"es"})


def max_utterance_chars(language: str = DEFAULT_LANGUAGE) -> int:
    """The longest utterance for text in ``language`` (an ISO 639-1 code)."""
    return LANGUAGE_UTTERANCE_CHARS.get(language, MAX_UTTERANCE_CHARS)


def joiner(language: str = DEFAULT_LANGUAGE) -> str:
    """What goes between two sentences of ``language`` put back together."""
    return "" if language in UNSPACED_LANGUAGES else " "


def _is_abbreviation(text: str, dot: int, language: str) -> bool:
    """Whether the "." at ``dot`` closes an abbreviation or an initial rather than a sentence."""
    match = _WORD_BEFORE.search(text, 0, dot)
    if match is None:
        return False
    word = match.group(1).lower().rstrip(".")
    known = word in ABBREVIATIONS or word in LANGUAGE_ABBREVIATIONS.get(language, frozenset())
    return known or (len(word) == 1 and word.isalpha())


def _not_a_boundary(text: str, match: re.Match[str], language: str) -> bool:
    punctuation = match.group(0)
    after = _NEXT_VISIBLE.match(text, match.end())
    following = after.group(1) if after else ""
    if punctuation == ".":
        if _is_abbreviation(text, match.start(), language):
            return True
        if language in _ORDINAL_LANGUAGES and _NUMBER_BEFORE.search(text, 0, match.start()):
            return following.isalpha() or following.isdigit()
        if language in _DOTTED_DATE_LANGUAGES and _DIGITS_BEFORE.search(text, 0, match.start()):
            return following.isdigit()
    if language in _INNER_EXCLAMATION_LANGUAGES and punctuation[0] in "?!":
        return following.islower()
    return False


def split_sentences(text: str, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """Split ``text`` (in ``language``, an ISO 639-1 code) into sentences, stripped; joining them
    with ``joiner(language)`` restores the words."""
    sentences, start = [], 0
    for match in _BOUNDARY.finditer(text):
        if _not_a_boundary(text, match, language):
            continue
        sentence = text[start : match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _break_points(sentence: str, language: str) -> list[int]:
    """Where an over-long sentence may be cut: after clause punctuation, else at spaces outside
    tags (or, in a script without spaces, between any two characters outside tags)."""
    inside_tag: set[int] = set()
    for tag in _TAG.finditer(sentence):
        inside_tag.update(range(tag.start() + 1, tag.end()))
    clauses = [m.end() for m in _CLAUSE_BREAK.finditer(sentence)]
    clauses = [c - 1 if sentence[c - 1].isspace() else c for c in clauses]
    if clauses:
        return clauses
    if language in UNSPACED_LANGUAGES:
        return [i for i in range(1, len(sentence)) if i not in inside_tag]
    return [i for i, ch in enumerate(sentence) if ch.isspace() and i not in inside_tag]


def _cut_long(sentence: str, max_chars: int, language: str) -> list[str]:
    pieces = []
    while len(sentence) > max_chars:
        points = _break_points(sentence, language)
        fitting = [p for p in points if 0 < p <= max_chars] or [p for p in points if p > 0][:1]
        if not fitting:
            break  # one unbreakable word: speak it whole
        cut = max(fitting)
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    return [*pieces, sentence] if sentence else pieces


def utterances(text: str, max_chars: int | None = None, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """Group sentences into utterances of at most ``max_chars`` (default: the language's, see
    ``max_utterance_chars``; a longer sentence is cut at a clause or a space), in order, losing
    no text."""
    limit = max_chars or max_utterance_chars(language)
    glue = joiner(language)
    result: list[str] = []
    for sentence in split_sentences(text, language):
        for piece in _cut_long(sentence, limit, language):
            if result and len(result[-1]) + len(glue) + len(piece) <= limit:
                result[-1] = f"{result[-1]}{glue}{piece}"
            else:
                result.append(piece)
    return result


class SentenceBuffer:
    """Collects streamed text and releases each sentence once it is certainly complete."""

    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        self._pending = ""
        self.language = language

    def feed(self, text: str) -> list[str]:
        self._pending += text
        sentences = split_sentences(self._pending, self.language)
        if len(sentences) <= 1:
            return []
        # The last piece may still grow; everything before it ended at a confirmed boundary.
        last = sentences[-1]
        self._pending = self._pending[self._pending.rindex(last) :]
        return sentences[:-1]

    def flush(self) -> list[str]:
        rest, self._pending = self._pending.strip(), ""
        return [rest] if rest else []
