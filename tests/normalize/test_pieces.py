"""Utterances cut from a spoken form keep their map to the written text."""

from __future__ import annotations

from coordinator.normalize.api import spoken_form
from coordinator.normalize.spans import pieces

TEXT = "Number 1, first part. Then the second part ends here."


def test_a_piece_cut_inside_text_copied_as_written_maps_only_to_its_own_written_characters():
    spoken = spoken_form(TEXT, "en")
    assert "one" in spoken.text  # "1" read out: the copied text after it is one long span
    first, second = pieces(spoken, ["Number one, first part.", "Then the second part ends here."])
    assert first.original_range(0, len(first.text)) == (0, TEXT.index(" Then"))
    assert second.original_range(0, len(second.text)) == (TEXT.index("Then"), len(TEXT))
