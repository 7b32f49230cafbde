"""The one entry point: ``spoken_form(text, language)``."""

from __future__ import annotations

from collections.abc import Iterable

from coordinator.normalize.lexicon import Lexicon
from coordinator.normalize.patterns import scanner
from coordinator.normalize.rules import read
from coordinator.normalize.spans import Spoken
from coordinator.normalize.words_asia import HI, KO, ZH
from coordinator.normalize.words_europe import DE, EN, ES, FR, IT

LEXICONS: dict[str, Lexicon] = {lex.language: lex for lex in (EN, FR, DE, ES, IT, KO, ZH, HI)}


def spoken_form(text: str, language: str) -> Spoken:
    """``text`` as a person reads it aloud in ``language`` (ISO 639-1, a region tag such as
    "en-GB" allowed), with the span map. A language no served model speaks is spoken as written."""
    lex = LEXICONS.get(language.split("-")[0].split("_")[0].lower())
    if lex is None or not text:
        return Spoken.verbatim(text)
    return read(text, lex)


def warm_up(languages: Iterable[str]) -> None:
    """Load each language's CLDR rules and compile its pattern now (7-56 ms each, measured in
    docs/normalization.md) rather than inside the first request that speaks it."""
    for language in languages:
        lex = LEXICONS.get(language.split("-")[0].split("_")[0].lower())
        if lex is not None:
            scanner(lex)
            lex.speller.cardinal(1)
