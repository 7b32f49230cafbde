"""An amount read aloud: a number with what is written around it (sign, currency, range, percent,
ordinal suffix, unit, counter, scale word): "-3", "$12.50", "3-5 kg", "12,5 %", "2nd", "1990s",
"3개", "€1.5 million"."""

from __future__ import annotations

import re
from typing import Protocol

from coordinator.normalize.lexicon import Lexicon, Money
from coordinator.normalize.numbers import read_number
from coordinator.normalize.patterns import CURRENCY_SYMBOLS
from coordinator.normalize.spans import SpokenBuilder

# Money's minor unit is said apart only when written with exactly two digits ("12.50").
MINOR_DIGITS = 2
MILLION = 1_000_000
# "1°" to "10°" are ordinals where ° marks them (es, it); "25°" is a temperature.
MAX_DEGREE_ORDINAL = 10


class AmountReader(Protocol):
    lex: Lexicon
    out: SpokenBuilder

    def number(self, raw: str, allow_year: bool = ...) -> str | None: ...
    def numbers_in(self, start: int, end: int) -> None: ...
    def integer(self, digits: str) -> str: ...


def currency_code(lex: Lexicon, written: str | None) -> str | None:
    if not written:
        return None
    written = written.strip()
    return lex.symbol_codes.get(written) or CURRENCY_SYMBOLS.get(written) or written


def read_amount(reader: AmountReader, match: re.Match[str]) -> None:
    lex = reader.lex
    written_currency = match["cpre"] or match["cpost"]
    code = currency_code(lex, written_currency)
    money = lex.currencies.get(code) if code else None
    plain = not (written_currency or match["pct"] or match["unit"] or match["scale"] or match["counter"])
    first = reader.number(match["n1"], allow_year=plain)
    if plain and lex.lone_one and match["n1"] == "1" and not match["ord"]:
        first = lex.lone_one
    second = reader.number(match["n2"], allow_year=plain) if match["n2"] else None
    if first is None or (match["n2"] and second is None):
        reader.numbers_in(match.start(), match.end())
        return
    if match["counter"]:
        _counted(reader, match)
        return
    degrees = match["ord"] == "°" and (not match["n1"].isdigit() or int(match["n1"]) > MAX_DEGREE_ORDINAL)
    if degrees and "°" in lex.units:
        # Spanish and Italian write ordinals with ° too ("1° de mayo"); past ten it is a temperature.
        unit = lex.units["°"]
        reader.out.replace(match.start(), match.end(), lex.join(first, lex.plural(unit, match["n1"], None)))
        return
    if match["ord"] is not None and not match["n2"] and match["n1"].isdigit():
        ruleset = lex.ordinal_suffixes.get(match["ord"]) or None
        reader.out.replace(match.start(), match.end(), lex.speller.ordinal(int(match["n1"]), ruleset))
        return
    if match["decade"] is not None:
        reader.out.replace(
            match.start(), match.end(), _decade(first) if lex.language == "en" else first + "s"
        )
        return
    words = _with_range(lex, match, first, second)
    if match["neg"]:
        words = lex.join(lex.minus, words)
    if money is not None:
        words = _money(lex, match, money, words)
    elif written_currency:
        words = lex.join(words, written_currency.strip())
    elif match["pct"]:
        words = lex.join(lex.percent, words) if lex.percent_before else lex.join(words, lex.percent)
    elif match["unit"]:
        words = lex.join(words, _unit(lex, match))
    elif match["scale"]:
        scale = match["scale"].strip()
        words = lex.join(words, lex.abbreviations.get(scale, scale))
    reader.out.replace(match.start(), match.end(), words)


def _with_range(lex: Lexicon, match: re.Match[str], first: str, second: str | None) -> str:
    if second is None:
        return first
    low = read_number(match["n1"], lex.decimal_mark, lex.group_marks, lex.indian_grouping)
    high = read_number(match["n2"], lex.decimal_mark, lex.group_marks, lex.indian_grouping)
    # "5 - 3" (spaced, counting down) is a subtraction; "52-48" a score or a range, read "to".
    spaced = match["rng"].strip() != match["rng"]
    descending = (
        spaced and low is not None and high is not None and _value(high.integer) < _value(low.integer)
    )
    return lex.join(first, lex.minus if descending else lex.range_word, second)


def _value(digits: str) -> int:
    return int(digits) if digits else 0


def _money(lex: Lexicon, match: re.Match[str], money: Money, words: str) -> str:
    written = read_number(match["n1"], lex.decimal_mark, lex.group_marks, lex.indian_grouping)
    if match["scale"]:
        scale = match["scale"].strip()
        return lex.join(words, lex.abbreviations.get(scale, scale), money.many)
    if (
        written is not None
        and lex.money_minor
        and not match["n2"]
        and written.fraction is not None
        and len(written.fraction) == MINOR_DIGITS
    ):
        cents = int(written.fraction)
        sign = lex.minus if match["neg"] else ""
        major = lex.join(sign, lex.speller.number(written.integer), lex.plural(money, written.integer, None))
        if not cents:
            return major
        minor = lex.join(lex.speller.cardinal(cents), money.cent if cents == 1 else money.cents)
        if int(written.integer or "0") == 0:
            return lex.join(sign, minor)
        return lex.join(major, lex.money_join, minor)
    if written is not None and not lex.money_minor and written.fraction and not match["n2"]:
        # "$12.50" read as a decimal: the trailing zero of the cents is not said.
        words = lex.decimal(written.integer, written.fraction.rstrip("0") or None)
        if match["neg"]:
            words = lex.join(lex.minus, words)
    last = match["n2"] or match["n1"]
    whole = written is not None and not written.fraction and not match["n2"] and written.integer.strip("0")
    if lex.millions_of and whole and written and int(written.integer) % MILLION == 0:
        # "un million d'euros", "un millón de euros": "of" joins without a space after an elision.
        return f"{words} {lex.millions_of}{money.many}"
    last_written = read_number(last, lex.decimal_mark, lex.group_marks, lex.indian_grouping)
    noun = (
        money.many if last_written is None else lex.plural(money, last_written.integer, last_written.fraction)
    )
    return lex.join(words, noun)


def _unit(lex: Lexicon, match: re.Match[str]) -> str:
    written = match["unit"].strip()
    unit = lex.units.get(written) or lex.units[written.lower()]
    last = match["n2"] or match["n1"]
    value = read_number(last, lex.decimal_mark, lex.group_marks, lex.indian_grouping)
    return unit.many if value is None else lex.plural(unit, value.integer, value.fraction)


def _counted(reader: AmountReader, match: re.Match[str]) -> None:
    """Korean and Mandarin: the counted word picks the numeral; the counter itself is kept."""
    lex = reader.lex
    say = lex.counters[match["counter"]]
    for group in ("n1", "n2"):
        if match[group] is None:
            continue
        if group == "n2":
            reader.out.replace(match.start("rng"), match.end("rng"), lex.range_word)
        raw = match[group]
        start = match.start("neg") if group == "n1" and match["neg"] else match.start(group)
        spoken = say(int(raw)) if raw.isdigit() else (reader.number(raw) or raw)
        if group == "n1" and match["neg"]:
            spoken = lex.join(lex.minus, spoken)
        reader.out.replace(start, match.end(group), spoken)
    reader.out.keep(match.start("counter"), match.end())


def _decade(year_words: str) -> str:
    """ "nineteen ninety" → "nineteen nineties"; "two thousand" → "two thousands"."""
    if year_words.endswith("ty"):
        return year_words[:-1] + "ies"
    return year_words + "s"
