"""The one scanning pattern per language: every written form the rules read, as named groups.

Safe on hostile input by construction: every repetition is bounded (``{1,18}``, ``{1,200}``) or
runs over a class its neighbours cannot match, so a failed attempt at one position costs at most a
bounded number of steps and the whole scan is linear in the text (tests/normalize/test_fuzz.py
measures it). Alternatives are tried in order at each position, so the longer and more specific
forms (a URL, a phone number, a date) come before a bare number.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from coordinator.normalize.lexicon import Lexicon
from coordinator.orpheus.layout import EMOTION_TAGS

CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "￥": "JPY"}
CURRENCY_CODES = ("USD", "EUR", "GBP", "JPY", "INR", "KRW", "CNY", "CHF", "MXN")
# Longest runs each piece may take: a URL or an e-mail longer than these is read in pieces.
MAX_URL = 200
MAX_EMAIL_LOCAL = 64
MAX_DOMAIN_LABEL = 63
# Digits spelled as one number; a longer run of digits is read digit by digit.
MAX_NUMBER_DIGITS = 18
# Emoji: pictographs, dingbats and symbols, flags, and the joiners and variation selectors that
# glue them. Dropped, not named (docs/normalization.md says why).
EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\ufe0f\u200d\U0001f1e6-\U0001f1ff"


def _alternation(words: Iterable[str]) -> str:
    """Literal words as one alternation, longest first (so "km/h" wins over "km")."""
    return "|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True))


def number_pattern(lex: Lexicon) -> str:
    marks = "".join(re.escape(mark) for mark in sorted(set(".," + lex.group_marks)))
    return rf"\d{{1,{MAX_NUMBER_DIGITS}}}(?:[{marks}]\d{{1,{MAX_NUMBER_DIGITS}}}){{0,6}}"


@functools.cache
def scanner(lex: Lexicon) -> re.Pattern[str]:
    num = number_pattern(lex)
    symbols = _alternation(list(CURRENCY_SYMBOLS) + list(lex.symbol_codes))
    codes = _alternation(CURRENCY_CODES)
    units = _alternation(lex.units)
    counters = _alternation(lex.counters) if lex.counters else "(?!)"
    ordinals = _alternation(lex.ordinal_suffixes) if lex.ordinal_suffixes else "(?!)"
    scales = _alternation(lex.scales)
    abbreviations = _alternation(lex.all_abbreviations()) if lex.abbreviations else "(?!)"
    months = _alternation(lex.months)
    tags = _alternation(EMOTION_TAGS)
    # A word character of any script that is not a digit.
    letter = r"[^\W\d_]"
    alternatives = [
        rf"(?P<tag>{tags})",
        rf"(?P<url>(?:https?://|www\.)[^\s<>\"'()\[\]]{{1,{MAX_URL}}})",
        rf"(?P<email>[\w.+-]{{1,{MAX_EMAIL_LOCAL}}}@[\w-]{{1,{MAX_DOMAIN_LABEL}}}"
        rf"(?:\.[\w-]{{1,{MAX_DOMAIN_LABEL}}}){{1,4}})",
        r"(?P<longdigits>(?<!\d)\d{19,})",
        # International ("+44 20 7946 0958"), North American ("(555) 123-4567", "555-123-4567",
        # "555-1234") and French ("01 23 45 67 89") telephone numbers; separators required
        # between groups so each string has one parse.
        r"(?P<phone>\+\d{1,3}(?:[ .-]\(?\d{1,5}\)?){2,6}(?!\d)|\+\d{7,15}(?!\d)"
        r"|(?<!\d)[01]\d{1,2}-\d{3,4}-\d{4}(?!\d)"
        r"|(?<!\d)(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\d)|(?<![\d-])\d{3}-\d{4}(?![\d-])"
        r"|(?<!\d)0\d(?:[ .]\d{2}){4}(?!\d))",
        r"(?P<isodate>(?<!\d)(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})(?![\d-]))",
        r"(?P<date>(?<![\d/.])(?P<d1>\d{1,2})(?P<dsep>[/.])(?P<d2>\d{1,2})(?P=dsep)(?P<d3>\d{4}|\d{2})(?![\d/]|\.\d))",
        r"(?P<time>(?<![\d:])(?P<hh>\d{1,2}):(?P<mm>\d{2})(?::(?P<ss>\d{2}))?(?![\d:])"
        r"(?:\s?(?P<ampm>[AaPp]\.?[Mm]\.?)(?!\w)|(?P<uhr>\s?Uhr\b))?"
        r"|(?<![\d:])(?P<hh2>\d{1,2})\s?(?P<ampm2>[AaPp]\.?[Mm]\.?)(?!\w)"
        + (r"|(?<!\w)(?P<hh3>\d{1,2})h(?P<mm3>\d{2})?(?!\w))" if lex.language == "fr" else ")"),
        r"(?P<fraction>(?<![\d/.,])(?P<fn>\d{1,3})/(?P<fd>\d{1,3})(?![\d/]|[.,]\d))",
        rf"(?P<dayofmonth>(?<![\d.,])(?P<dm>\d{{1,2}})(?P<dmsuf>{ordinals})?\.?\s(?P<month>{months})(?!\w))",
        rf"(?P<monthday>(?P<month2>{months})\s(?P<md>\d{{1,2}})(?:{ordinals})?(?![\d\w]))"
        if lex.language == "en"
        else r"(?P<monthday>(?!))",
        # German "der 3. Platz": an ordinal after an article.
        r"(?P<dedot>(?<!\w)(?P<art>(?i:der|die|das|den|dem|am|im|vom|zum|zur|beim)) (?P<dd>\d{1,3})\.(?=\s))"
        if lex.language == "de"
        else r"(?P<dedot>(?!))",
        # An amount: optional sign and currency, the number, an optional range, then at most one
        # reading of what follows (percent, ordinal suffix, unit, counter, scale, currency after).
        rf"(?P<amount>(?P<neg>(?<![0-9A-Za-z.,\-−])[-−])?(?P<cpre>(?:{symbols})|(?:{codes}) ?)?"
        rf"(?P<n1>{num})(?:(?P<rng>\s?[-–]\s?)(?P<n2>{num}))?"
        rf"(?:(?P<pct>\s?%)|(?P<ord>{ordinals})(?!\w)|(?P<scale>\s(?:{scales}))(?!\w)"
        rf"|(?P<decade>s)(?!\w)|(?P<unit>\s?(?:{units}))(?![A-Za-z0-9°/])|(?P<counter>{counters}))?"
        rf"(?P<cpost>\s?(?:{symbols})|\s(?:{codes})(?!\w))?)",
        r"(?P<numsign>(?:No\.|Nr\.|n°|N°|#) ?(?=\d))",
        rf"(?P<abbr>(?<![\w.])(?:{abbreviations})(?![\w]))",
        # Latin capitals between non-Latin letters too ("我们的CEO说").
        r"(?P<acronym>(?<![A-Za-z0-9])[A-Z]{2,6}(?P<acrs>s)?(?![A-Za-z0-9]))",
        rf"(?P<hashtag>(?<![\w#])#(?={letter}))",
        rf"(?P<mention>(?<![\w@])@(?={letter}))",
        r"(?P<symbol>&|(?<=[\d\s])\+(?=[\d\s])|(?<=\s)[@%](?=\s))",
        r"(?P<dots>\.{3,}|…{1,50})",
        r"(?P<bangs>[!?！？]{2,}|[¡¿]{2,})",
        rf"(?P<emoji>[{EMOJI}]+ ?)",
    ]
    return re.compile("|".join(alternatives))
