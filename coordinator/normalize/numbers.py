"""Numbers as words: CLDR's spell-out rules (``unicode-rbnf``) for every served language, and the
reading of a written number (its group and decimal marks) by the language's convention.

unicode-rbnf was chosen on one shared table of cases (docs/normalization.md): it covers all eight
served languages (num2words lacks Mandarin and Hindi, inflect is English only, wetext English and
Mandarin only), is pure Python with no dependencies, and is MIT-licensed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from unicode_rbnf import FormatPurpose, RbnfEngine

# Beyond this many digits an ungrouped run is read digit by digit: a run of ten digits or more
# written without separators is a telephone, account or order number ("13812345678"), not a
# count of billions (which news writes grouped or as "3 billion").
MAX_SPELLED_DIGITS = 9


@functools.cache
def _engine(language: str) -> RbnfEngine:
    return RbnfEngine.for_language(language)


@dataclass(frozen=True)
class Speller:
    """Spells integers in one language with the CLDR rule sets the lexicon names."""

    language: str
    cardinal_ruleset: str
    ordinal_ruleset: str
    digit_names: tuple[str, ...]

    def cardinal(self, value: int, ruleset: str | None = None) -> str:
        return _spell(self.language, value, ruleset or self.cardinal_ruleset, FormatPurpose.CARDINAL)

    def ordinal(self, value: int, ruleset: str | None = None) -> str:
        return _spell(self.language, value, ruleset or self.ordinal_ruleset, FormatPurpose.ORDINAL)

    def year(self, value: int) -> str:
        """The year's reading where CLDR has one ("nineteen ninety-nine", "neunzehnhundert...")."""
        return _spell(self.language, value, "spellout-numbering-year", FormatPurpose.YEAR)

    def digits(self, digits: str, separator: str = " ") -> str:
        return separator.join(self.digit_names[int(d)] for d in digits if d.isdigit())

    def number(self, digits: str) -> str:
        """A written digit run: spelled as a number, or digit by digit past ``MAX_SPELLED_DIGITS``."""
        stripped = digits.lstrip("0") or "0"
        if len(stripped) > MAX_SPELLED_DIGITS:
            return self.digits(digits)
        return self.cardinal(int(stripped))


@functools.lru_cache(maxsize=4096)
def _spell(language: str, value: int, ruleset: str, purpose: FormatPurpose) -> str:
    result = _engine(language).format_number(value, purpose)
    return result.text_by_ruleset.get(ruleset, result.text)


@dataclass(frozen=True)
class WrittenNumber:
    """A number as written: its integer digits and, if any, its fraction digits."""

    integer: str
    fraction: str | None


def read_number(
    raw: str, decimal_mark: str, group_marks: str, indian_grouping: bool = False
) -> WrittenNumber | None:
    """Read ``raw`` (digits and marks only) by the language's convention, or ``None`` when the marks
    do not make one number (a version "1.2.3", an address "192.168.0.1"): the caller reads the digit
    runs one by one then.

    The rule for the ambiguous mark: a group mark must be followed by exactly three digits; the
    language's decimal mark may appear once, last. A lone foreign mark that is not followed by
    exactly three digits is read as a decimal mark whatever the language ("3.5" in German is drei
    Komma fünf, "1,5" in English one point five); followed by exactly three digits it is the
    language's reading ("1.000" is a thousand in German, one point zero zero zero in English;
    "1,000" a thousand in English, eins Komma null null null in German).
    """
    parts: list[str] = []
    marks: list[str] = []
    current = []
    for char in raw:
        if char.isdigit():
            current.append(char)
        else:
            parts.append("".join(current))
            marks.append(char)
            current = []
    parts.append("".join(current))
    if not marks:
        return WrittenNumber(raw, None)
    fraction: str | None = None
    if marks[-1] == decimal_mark or (len(marks) == 1 and marks[0] in ".," and len(parts[-1]) != 3):
        fraction = parts.pop()
        marks.pop()
    if any(mark not in group_marks for mark in marks) or len(set(marks)) > 1:
        return None
    if marks and not _grouped(parts, indian_grouping):
        return None
    return WrittenNumber("".join(parts), fraction)


def _grouped(parts: list[str], indian_grouping: bool) -> bool:
    """Thousands groups of three ("1,234,567"), or in Indian grouping also twos before the last
    three ("12,34,567")."""
    return _groups_of(parts, 3) or (indian_grouping and _groups_of(parts, 2))


def _groups_of(parts: list[str], inner: int) -> bool:
    return (
        1 <= len(parts[0]) <= inner
        and all(len(part) == inner for part in parts[1:-1])
        and len(parts[-1]) == 3
    )
