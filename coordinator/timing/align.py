"""The recogniser's words on generated audio matched to the words of the ORIGINAL text.

An utterance is spoken in its spoken form (``Spoken``: "10:30" read "ten thirty"); the recogniser
writes what it heard its own way ("10:30", "Mr.", "3"). Both sides are brought to one form of
bare lower-case spoken words: the text's spoken words as they are, the recogniser's written
through the same normaliser (``spoken_form``), each piece keeping the time of the recogniser word
it came from. A Levenshtein alignment over those words (a substitution of similar spellings costs
less than one of different words) pairs them; each original word (the written characters its
spoken words map back to) takes the start of its first heard word and the end of its last. A
word the recogniser did not hear gets the gap between its neighbours (``heard=False``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from coordinator.normalize.api import spoken_form
from coordinator.normalize.spans import Spoken

# A spoken word: letters and digits, with inner apostrophes or hyphens ("don't", "forty-two").
_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
# Two spellings this alike (difflib's ratio) are one word heard differently ("colour"/"color",
# 0.91; "the"/"weather" is 0.6, two words):
# a substitution then costs less than a deletion and an insertion, so the alignment prefers it.
SIMILAR_SPELLING = 0.75
# A different word in place costs a hair more than one gap: where a substitution and a gap tie
# ("what is the weather weather" heard for "what is the weather"), the gaps win, so a repeat is
# reported as a repeat and not as a run of changed words.
_COST_SAME, _COST_SIMILAR, _COST_OTHER, _COST_GAP = 0.0, 0.5, 1.01, 1.0


@dataclass(frozen=True)
class HeardWord:
    """A word as the recogniser wrote it, with its time in the audio it heard (seconds)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class WordTiming:
    """A word of the original text: ``text`` is ``original[char_start:char_end]``; ``start`` and
    ``end`` in seconds of the audio. ``heard``: the recogniser heard (some of) it; else its time is
    the gap its neighbours leave."""

    text: str
    start: float
    end: float
    char_start: int
    char_end: int
    heard: bool = True

    def shifted(self, seconds: float, chars: int = 0) -> WordTiming:
        return WordTiming(
            self.text,
            self.start + seconds,
            self.end + seconds,
            self.char_start + chars,
            self.char_end + chars,
            self.heard,
        )


class Op(Enum):
    SAME = "same"  # heard as written (or as the same spoken word)
    CHANGED = "changed"  # heard as another word in its place
    MISSING = "missing"  # not heard
    ADDED = "added"  # heard, not in the text


@dataclass(frozen=True)
class Pair:
    """One step of the alignment: a reference word index and/or a heard token index."""

    op: Op
    ref: int | None
    heard: int | None


@dataclass(frozen=True)
class Token:
    """A bare lower-case spoken word; ``origin``: the char range it maps to (original text for the
    reference, the joined transcript for the heard side), ``start``/``end``: its time."""

    word: str
    origin: tuple[int, int]
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True)
class Alignment:
    reference: tuple[Token, ...]
    heard: tuple[Token, ...]
    pairs: tuple[Pair, ...]


def reference_tokens(spoken: Spoken) -> list[Token]:
    """The spoken words of an utterance, each with the original characters it was read from."""
    return [
        Token(match.group().lower(), original_chars(spoken, match.start(), match.end()))
        for match in _WORD.finditer(spoken.text)
    ]


def heard_tokens(words: Sequence[HeardWord], language: str) -> list[Token]:
    """The recogniser's words in spoken form ("10:30" -> "ten", "thirty"), each piece with the
    time of the word it came from (shared evenly when one written word is several spoken ones)."""
    joined, bounds = "", []
    for word in words:
        text = word.text.strip()
        start = len(joined) + (1 if joined else 0)
        joined = f"{joined} {text}" if joined else text
        bounds.append((start, start + len(text)))
    spoken = spoken_form(joined, language)
    pieces: list[tuple[str, int]] = []  # (word, index of the recogniser word)
    for match in _WORD.finditer(spoken.text):
        first, _ = original_chars(spoken, match.start(), match.end())
        index = next((i for i, (_, end) in enumerate(bounds) if first < end), len(bounds) - 1)
        pieces.append((match.group().lower(), index))
    tokens = []
    for i, (text, index) in enumerate(pieces):
        share = [j for j, (_, k) in enumerate(pieces) if k == index]
        word, n, k = words[index], len(share), share.index(i)
        step = (word.end - word.start) / n
        tokens.append(Token(text, bounds[index], word.start + k * step, word.start + (k + 1) * step))
    return tokens


def align(reference: Sequence[Token], heard: Sequence[Token]) -> Alignment:
    """The cheapest edit from ``reference`` to ``heard`` (Levenshtein, similar spellings cheaper)."""
    n, m = len(reference), len(heard)
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i * _COST_GAP
    for j in range(1, m + 1):
        cost[0][j] = j * _COST_GAP
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(
                cost[i - 1][j - 1] + _substitution(reference[i - 1].word, heard[j - 1].word),
                cost[i - 1][j] + _COST_GAP,
                cost[i][j - 1] + _COST_GAP,
            )
    pairs: list[Pair] = []
    i, j = n, m
    while i or j:
        if (
            i
            and j
            and cost[i][j] == cost[i - 1][j - 1] + _substitution(reference[i - 1].word, heard[j - 1].word)
        ):
            same = reference[i - 1].word == heard[j - 1].word
            pairs.append(Pair(Op.SAME if same else Op.CHANGED, i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + _COST_GAP:
            pairs.append(Pair(Op.MISSING, i - 1, None))
            i -= 1
        else:
            pairs.append(Pair(Op.ADDED, None, j - 1))
            j -= 1
    return Alignment(tuple(reference), tuple(heard), tuple(reversed(pairs)))


def word_timings(
    spoken: Spoken, words: Sequence[HeardWord], language: str, duration: float, sound: Sound | None = None
) -> list[WordTiming]:
    """Each word of the original text that ``spoken`` was read from, timed in the audio the
    recogniser heard (``duration`` seconds long; ``sound``: its loud frames, to draw each word in
    to its own sound)."""
    return timings_of(spoken, align(reference_tokens(spoken), heard_tokens(words, language)), duration, sound)


def timings_of(
    spoken: Spoken, alignment: Alignment, duration: float, sound: Sound | None = None
) -> list[WordTiming]:
    """The original words of an alignment's reference, timed by the heard tokens paired with them."""
    times: dict[int, tuple[float, float]] = {}
    for pair in alignment.pairs:
        if pair.ref is not None and pair.heard is not None:
            token = alignment.heard[pair.heard]
            start, end = times.get(pair.ref, (token.start, token.end))
            times[pair.ref] = (min(start, token.start), max(end, token.end))
    if sound is not None:
        times = {index: sound.drawn_in(*span) for index, span in times.items()}
    groups = _original_words(spoken, alignment.reference)
    timed: list[tuple[int, int, tuple[float, float] | None]] = []
    for (char_start, char_end), members in groups:
        spans = [times[i] for i in members if i in times]
        timed.append(
            (char_start, char_end, (min(s for s, _ in spans), max(e for _, e in spans)) if spans else None)
        )
    filled = _gaps_shared([t[2] for t in timed], [max(end - start, 1) for start, end, _ in timed], duration)
    result = []
    for (char_start, char_end, heard_span), span in zip(timed, filled, strict=True):
        text = spoken.original[char_start:char_end]
        result.append(
            WordTiming(
                text, round(span[0], 3), round(span[1], 3), char_start, char_end, heard_span is not None
            )
        )
    return result


def _gaps_shared(
    spans: list[tuple[float, float] | None], weights: list[int], duration: float
) -> list[tuple[float, float]]:
    """Each run of words not heard shares the gap its heard neighbours leave, a word's share in
    proportion to its characters (a stand-in for its length in time): the words stay in order and
    captions made of them never overlap, even where nothing at all was heard."""
    filled: list[tuple[float, float]] = []
    index = 0
    while index < len(spans):
        span = spans[index]
        if span is not None:
            filled.append(span)
            index += 1
            continue
        run_end = index
        while run_end < len(spans) and spans[run_end] is None:
            run_end += 1
        before = filled[-1][1] if filled else 0.0
        following = spans[run_end] if run_end < len(spans) else None
        after = max(before, following[0] if following is not None else duration)
        total = sum(weights[index:run_end])
        at = before
        for weight in weights[index:run_end]:
            share = (after - before) * weight / total
            filled.append((at, at + share))
            at += share
        index = run_end
    return filled


# Whisper's word timestamps (cross-attention) stretch a word over the silence around it and into
# the next word's first sound, by 0.1-0.5 s on espeak-ng words with known gaps (docs/timings.md):
# each heard word is drawn in to its own sound, the run of 10 ms frames louder than SOUND_SHARE of
# the utterance's loudest frame that starts at its first loud frame, bridging quiet stretches
# shorter than a pause (a stop consonant's closure, not the gap before the next word).
FRAME_S = 0.01
SOUND_SHARE = 0.03
PAUSE_S = 0.08


@dataclass(frozen=True)
class Sound:
    """Which 10 ms frames of the audio are loud (``Sound.of(samples, rate)``)."""

    loud: np.ndarray

    @classmethod
    def of(cls, samples: np.ndarray, rate: int) -> Sound:
        frame = max(int(FRAME_S * rate), 1)
        frames = samples[: samples.size // frame * frame].reshape(-1, frame).astype(np.float64)
        energy = np.sqrt(np.mean(np.square(frames), axis=1)) if frames.size else np.zeros(0)
        peak = float(energy.max()) if energy.size else 0.0
        return cls(energy > SOUND_SHARE * peak if peak > 0 else np.zeros(energy.size, bool))

    def drawn_in(self, start: float, end: float) -> tuple[float, float]:
        """``[start, end)`` drawn in to the sound that begins inside it (as given if silent)."""
        first, last = int(start / FRAME_S), int(np.ceil(end / FRAME_S))
        inside = np.flatnonzero(self.loud[first:last])
        if not inside.size:
            return (start, end)
        pause = max(int(PAUSE_S / FRAME_S), 1)
        sound_start = first + int(inside[0])
        sound_end = sound_start
        for frame in inside[1:]:
            if first + int(frame) - sound_end > pause:
                break
            sound_end = first + int(frame)
        return (round(sound_start * FRAME_S, 3), round((sound_end + 1) * FRAME_S, 3))


def original_chars(spoken: Spoken, start: int, end: int) -> tuple[int, int]:
    """The original characters of ``spoken.text[start:end]``: character for character inside a
    span copied as written, else the whole span (a word of a read number maps to the number)."""
    first = last = None
    for span in spoken.spans:
        if span.spoken_end <= start or span.spoken_start >= end:
            continue
        said = spoken.text[span.spoken_start : span.spoken_end]
        copied = spoken.original.startswith(said, span.original_start)
        lo = span.original_start + max(start - span.spoken_start, 0) if copied else span.original_start
        hi = (
            span.original_start + min(end, span.spoken_end) - span.spoken_start
            if copied
            else span.original_end
        )
        first = lo if first is None else min(first, lo)
        last = hi if last is None else max(last, hi)
    if first is None or last is None:
        return (len(spoken.original), len(spoken.original))
    return (first, last)


def _original_words(spoken: Spoken, reference: Sequence[Token]) -> list[tuple[tuple[int, int], list[int]]]:
    """Reference tokens grouped by the written word they read: each token's original range widened
    to the whitespace around it ("Hello," with its comma, as captions show it), and tokens whose
    ranges then overlap are one word ("ten", "thirty" both read "10:30")."""
    groups: list[tuple[tuple[int, int], list[int]]] = []
    for index, token in enumerate(reference):
        start, end = _widened(spoken.original, *token.origin)
        if groups and start < groups[-1][0][1]:
            (g_start, g_end), members = groups[-1]
            groups[-1] = ((g_start, max(g_end, end)), [*members, index])
        else:
            groups.append(((start, end), [index]))
    return groups


def _widened(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end)


def _substitution(a: str, b: str) -> float:
    if a == b:
        return _COST_SAME
    if difflib.SequenceMatcher(None, a, b).ratio() >= SIMILAR_SPELLING:
        return _COST_SIMILAR
    return _COST_OTHER
