"""What every spoken form must satisfy, whatever the text: the span map covers the spoken text in
order without gaps, points inside the original in order, and only changes what a rule reads."""

from __future__ import annotations

from coordinator.normalize.api import LEXICONS
from coordinator.normalize.patterns import scanner
from coordinator.normalize.spans import Spoken


def check_spans(spoken: Spoken, language: str) -> None:
    text, original = spoken.text, spoken.original
    assert bool(spoken.spans) == bool(text)
    read_ranges = [match.span() for match in scanner(LEXICONS[language]).finditer(original)]
    spoken_position = 0
    original_position = 0
    # Both lists are in order: walk the scanner's matches alongside the spans.
    match_index = 0
    for span in spoken.spans:
        # The spoken text, covered in order without gaps or overlaps.
        assert span.spoken_start == spoken_position, (span, spoken)
        assert span.spoken_end > span.spoken_start, (span, spoken)
        spoken_position = span.spoken_end
        # Each span points inside the original, after the one before.
        assert original_position <= span.original_start <= span.original_end <= len(original), (span, spoken)
        original_position = span.original_end
        # A span that reads other words than were written holds a written form a rule reads
        # (a number, a symbol, an abbreviation...): plain prose passes through verbatim.
        said = text[span.spoken_start : span.spoken_end]
        written = original[span.original_start : span.original_end]
        if said != written:
            while match_index < len(read_ranges) and read_ranges[match_index][1] <= span.original_start:
                match_index += 1
            assert match_index < len(read_ranges), (said, written)
            assert read_ranges[match_index][0] < span.original_end, (said, written)
    assert spoken_position == len(text)
