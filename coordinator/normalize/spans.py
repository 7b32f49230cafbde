"""The spoken form of a text and the map back to what was written.

Every normaliser builds its output with ``SpokenBuilder``: it copies written text through
(``keep``) or replaces a written range by words (``replace``). The result knows, for any span of
the spoken text, which characters of the original it came from, so word timings and captions can
point at what the user wrote, not at the words Orpheus was given.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """``spoken[spoken_start:spoken_end]`` reads ``original[original_start:original_end]``."""

    spoken_start: int
    spoken_end: int
    original_start: int
    original_end: int


@dataclass(frozen=True)
class Spoken:
    """A text's spoken form, the original, and the spans that tie them (in order, covering the
    spoken text without gaps or overlaps)."""

    text: str
    original: str
    spans: tuple[Span, ...]

    @classmethod
    def verbatim(cls, text: str) -> Spoken:
        """The text spoken as written (normalisation off): one span, the identity."""
        return cls(text=text, original=text, spans=(Span(0, len(text), 0, len(text)),) if text else ())

    def original_range(self, start: int, end: int) -> tuple[int, int]:
        """The characters of the original that the spoken ``[start, end)`` was made from: the union
        of the spans it touches (a word inside a replaced number maps to the whole number)."""
        if not self.spans or start >= end:
            return (0, 0)
        starts = [span.spoken_start for span in self.spans]
        first = max(bisect.bisect_right(starts, start) - 1, 0)
        last = max(bisect.bisect_left(starts, end) - 1, first)
        return (self.spans[first].original_start, self.spans[last].original_end)


@dataclass
class SpokenBuilder:
    """Builds a ``Spoken`` left to right over ``original``."""

    original: str
    _parts: list[str] = field(default_factory=list)
    _spans: list[Span] = field(default_factory=list)
    _length: int = 0
    _last_verbatim: bool = False

    def keep(self, start: int, end: int) -> None:
        """Copy ``original[start:end]`` through unchanged (merged with a verbatim span before it)."""
        if start == end:
            return
        text = self.original[start:end]
        previous = self._spans[-1] if self._spans else None
        if self._last_verbatim and previous is not None and previous.original_end == start:
            self._spans[-1] = Span(
                previous.spoken_start, self._length + len(text), previous.original_start, end
            )
        else:
            self._spans.append(Span(self._length, self._length + len(text), start, end))
        self._parts.append(text)
        self._length += len(text)
        self._last_verbatim = True

    def replace(self, start: int, end: int, spoken: str) -> None:
        """Speak ``original[start:end]`` as ``spoken``; empty drops it (the dropped characters join
        the span before, so the map still covers the whole original)."""
        if spoken:
            self._spans.append(Span(self._length, self._length + len(spoken), start, end))
            self._parts.append(spoken)
            self._length += len(spoken)
        elif self._spans and start < end:
            previous = self._spans[-1]
            self._spans[-1] = Span(previous.spoken_start, previous.spoken_end, previous.original_start, end)
        self._last_verbatim = False

    def build(self) -> Spoken:
        return Spoken(text="".join(self._parts), original=self.original, spans=tuple(self._spans))


def compose(outer: Spoken, inner: Spoken, offset: int = 0) -> Spoken:
    """Two steps as one: ``inner`` speaks a piece of ``outer``'s spoken text (``inner.original`` is
    ``outer.text[offset:offset + len(inner.original)]``, e.g. a sentence of a reply's markdown
    made speakable); the result speaks ``inner.text`` with spans pointing at ``outer.original``,
    so a spoken word maps to the characters the user (or the chat model) wrote."""
    spans = []
    starts = [span.spoken_start for span in outer.spans]  # once, not per span (original_range)
    # Spans copied as written (markup dropped after them may have joined them): a spoken
    # character there maps to its own written character, not to the whole span.
    verbatim = [_copied(outer, span) for span in outer.spans]
    for span in inner.spans:
        start, end = offset + span.original_start, offset + span.original_end
        if start == end:  # spoken text added where nothing was written: the point it was added at
            end = min(start + 1, len(outer.text))
            start = min(start, end - 1) if end else 0
        if not outer.spans or start >= end:
            original_start = original_end = len(outer.original)
        else:
            first = max(bisect.bisect_right(starts, start) - 1, 0)
            last = max(bisect.bisect_left(starts, end) - 1, first)
            head, tail = outer.spans[first], outer.spans[last]
            original_start = head.original_start
            if verbatim[first] and start >= head.spoken_start:
                original_start += start - head.spoken_start
            original_end = tail.original_end
            if verbatim[last] and end < tail.spoken_end:
                original_end = tail.original_start + end - tail.spoken_start
        spans.append(Span(span.spoken_start, span.spoken_end, original_start, original_end))
    return Spoken(text=inner.text, original=outer.original, spans=tuple(spans))


def piece(spoken: Spoken, start: int, end: int) -> Spoken:
    """``spoken.text[start:end]`` (an utterance of it) with its spans, counted from the piece's
    start and still pointing into the whole original."""
    spans = []
    for span in spoken.spans:
        if span.spoken_end <= start or span.spoken_start >= end:
            continue
        original_start, original_end = span.original_start, span.original_end
        if _copied(spoken, span):
            # Text copied as written, cut by the piece's edge: its written characters are cut
            # alike (else a word of the piece would map to the whole span, across utterances).
            original_start += max(start - span.spoken_start, 0)
            original_end -= max(span.spoken_end - end, 0)
        spans.append(
            Span(
                max(span.spoken_start, start) - start,
                min(span.spoken_end, end) - start,
                original_start,
                original_end,
            )
        )
    return Spoken(text=spoken.text[start:end], original=spoken.original, spans=tuple(spans))


def pieces(spoken: Spoken, texts: list[str]) -> list[Spoken]:
    """Each of ``texts`` (utterances cut from ``spoken.text`` in order, stripped) as a ``piece``;
    a text not found there (the splitter changed it) maps to the rest of the text."""
    found, cursor = [], 0
    for text in texts:
        start = spoken.text.find(text, cursor)
        if start == -1:
            found.append(piece(spoken, cursor, len(spoken.text)))
            continue
        cursor = start + len(text)
        found.append(piece(spoken, start, cursor))
    return found


def _copied(spoken: Spoken, span: Span) -> bool:
    said = spoken.text[span.spoken_start : span.spoken_end]
    return spoken.original.startswith(said, span.original_start, span.original_end)
