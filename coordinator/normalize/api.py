"""The one entry point: ``spoken_form(text, language)``. Placeholder until the normalisers land
(issue 25): the text is spoken as written."""

from __future__ import annotations

from coordinator.normalize.spans import Spoken


def spoken_form(text: str, language: str) -> Spoken:
    """``text`` as a person reads it aloud in ``language`` (ISO 639-1), with the span map."""
    del language
    return Spoken.verbatim(text)
