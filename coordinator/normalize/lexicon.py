"""What a language needs for reading written text aloud: its number conventions, the words for
marks, currencies and units, its abbreviations, and how it says a date and a time.

One ``Lexicon`` per served language (``words_europe``, ``words_asia``); the rules
(``coordinator.normalize.rules``) are shared and read everything language-specific from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from coordinator.normalize.numbers import Speller


@dataclass(frozen=True)
class Money:
    """A currency's names: major unit singular and plural, minor unit singular and plural."""

    one: str
    many: str
    cent: str
    cents: str


@dataclass(frozen=True)
class Unit:
    one: str
    many: str


# eq=False: compared and hashed by identity, so the compiled scanner can be cached per lexicon.
@dataclass(frozen=True, eq=False)
class Lexicon:
    language: str
    speller: Speller
    # Number marks: the decimal mark and the marks that group thousands.
    decimal_mark: str
    group_marks: str
    point: str
    minus: str
    percent: str
    # "3-5" reads "three to five".
    range_word: str
    and_word: str
    plus: str
    # URL and e-mail reading.
    dot: str
    slash: str
    at: str
    hashtag: str
    number_sign: str
    # Between a currency's major and minor amounts ("and", "et", "und"...).
    money_join: str
    currencies: dict[str, Money]
    units: dict[str, Unit]
    # Scale words after an amount ("$1.5 million"): kept after the number, before the currency.
    scales: tuple[str, ...]
    abbreviations: dict[str, str]
    months: tuple[str, ...]
    # "MDY", "DMY" or "YMD": how an all-numeric date "1/2/2024" is read.
    date_order: str
    say_date: Callable[[Lexicon, int | None, int, int], str]
    say_time: Callable[[Lexicon, int, int, str | None], str]
    say_year: Callable[[Lexicon, int], str]
    # Written ordinal suffixes after digits ("1st", "1er", "1º"), to the ordinal rule set to use.
    ordinal_suffixes: dict[str, str] = field(default_factory=dict)
    # Whether words are separated by spaces (not in Mandarin).
    spaced: bool = True
    # How "1/2" reads: a half; other fractions "n over d".
    half: str = ""
    over: str = "/"
    fraction_as_number: bool = False
    # Korean and Mandarin read some counted things with other numerals ("3개" 세 개, "2个" 两个):
    # the counter word that follows, to the spelled number.
    counters: dict[str, Callable[[int], str]] = field(default_factory=dict)
    # Mandarin says the percent first ("百分之五").
    percent_before: bool = False
    # Whether an amount's cents are said apart ("twelve dollars and fifty cents") or the amount is
    # read as a decimal before the currency ("십이 점 오 달러").
    money_minor: bool = True
    # Indian grouping ("1,00,000"): groups of two before the last three.
    indian_grouping: bool = False
    # The currency symbols this language reads otherwise ("¥" is the yuan in Mandarin).
    symbol_codes: dict[str, str] = field(default_factory=dict)
    # Korean and Mandarin say the denominator first ("사분의 삼", "四分之三").
    denominator_first: bool = False
    # Four-digit numbers in this range read as years where the language reads them apart
    # ("in 1999": nineteen ninety-nine); empty where a year is said as any number.
    year_range: tuple[int, int] = (0, 0)
    # "1" said alone where it differs from "1" before a noun (German "eins", "ein Euro").
    lone_one: str = ""
    # Whole millions take "of" before the currency ("un million d'euros", "un millón de euros").
    millions_of: str = ""

    def all_abbreviations(self) -> dict[str, str]:
        """The abbreviations, and those written lower case also capitalised at a sentence's start
        ("Aprox." as "aprox."), read capitalised."""
        capitalised = {
            key[0].upper() + key[1:]: value[0].upper() + value[1:]
            for key, value in self.abbreviations.items()
            if key[:1].islower()
        }
        return {**capitalised, **self.abbreviations}

    def join(self, *words: str) -> str:
        return (" " if self.spaced else "").join(word for word in words if word)

    def cardinal(self, value: int) -> str:
        if value < 0:
            return self.join(self.minus, self.speller.cardinal(-value))
        return self.speller.cardinal(value)

    def plural(self, unit: Unit | Money, integer: str, fraction: str | None) -> str:
        return unit.one if integer.lstrip("0") == "1" and not fraction else unit.many

    def decimal(self, integer: str, fraction: str | None) -> str:
        """ "3.14": the integer, the point word, then the fraction digit by digit, or as a number
        where the language says it so ("trois virgule quatorze") and it has no leading zero."""
        spoken = self.speller.number(integer)
        if fraction is None:
            return spoken
        if not fraction:
            return spoken
        if self.fraction_as_number and len(fraction) <= 2 and not fraction.startswith("0"):
            tail = self.speller.number(fraction)
        else:
            tail = self.speller.digits(fraction, " " if self.spaced else "")
        return self.join(spoken, self.point, tail)
