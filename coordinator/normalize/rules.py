"""The rules: one scan over the text (``patterns.scanner``), each written form read aloud by the
language's ``Lexicon``, every replacement recorded in a ``SpokenBuilder`` so the spoken text maps
back to the characters it came from.

The ambiguous cases and their rules (docs/normalization.md lists them all):
- "1/2" with no year is a fraction when the numerator is smaller and the denominator at most ten
  ("1/2", "3/4"); otherwise the two numbers are read one after the other ("24/7", "9/11").
- "1/2/2024" is month first in English, Korean and Mandarin, day first elsewhere; "1.2.2024" is
  always day first.
- "1,000" and "1.000": see ``numbers.read_number``.
- A four-digit number in ``Lexicon.year_range`` reads as a year (English: "in 1999" nineteen
  ninety-nine; German 1100-1999: neunzehnhundert...).
- A number written with a leading zero ("007", a postcode "01234") is read digit by digit.
- English "St." before a capitalised word is Saint, otherwise Street.
"""

from __future__ import annotations

import re

from coordinator.normalize.amounts import read_amount
from coordinator.normalize.lexicon import Lexicon
from coordinator.normalize.numbers import read_number
from coordinator.normalize.patterns import scanner
from coordinator.normalize.spans import Spoken, SpokenBuilder

# Acronyms read letter by letter although they hold a vowel (one without a vowel always is).
SPELLED_ACRONYMS = frozenset(
    ["UE", "BCE", "FBI", "CIA", "NBA", "UAE", "ATM", "EV", "VIP", "DIY", "ETA", "IQ", "OS", "AI"]
    + [
        "USA",
        "UK",
        "EU",
        "AI",
        "API",
        "CEO",
        "CFO",
        "CPU",
        "GPU",
        "IBM",
        "IPO",
        "ID",
        "UI",
        "UX",
        "URL",
        "USB",
        "FAQ",
        "IOU",
        "OECD",
        "EU",
        "UN",
        "OK",
        "TV",
        "PC",
    ]
)
_VOWELS = frozenset("AEIOUY")
# Titles before a name: their period never ends a sentence ("Dr. Who." ends at "Who.").
TITLES = frozenset(
    ["Dr.", "Mr.", "Mrs.", "Ms.", "Prof.", "Jr.", "Sr.", "Sra.", "Srta.", "Dra.", "M.", "Hr.", "Fr."]
    + ["Sig.", "Dott.", "Mt.", "St.", "Ave.", "Ud.", "Uds.", "Avda.", "डॉ."]
)
# A date's parts that make a real date.
MONTHS_IN_YEAR = 12
DAYS_IN_MONTH = 31
HOURS_IN_DAY = 24
MINUTES_IN_HOUR = 60
# "1/2" reads as a fraction up to this denominator ("3/4" three quarters); beyond, two numbers.
MAX_FRACTION_DENOMINATOR = 10
# Two-digit years ("1/2/24") belong to this century.
CENTURY = 2000
_DIGIT_RUN = re.compile(r"\d+")


def read(text: str, lex: Lexicon) -> Spoken:
    builder = SpokenBuilder(text)
    reader = _Reader(text, lex, builder)
    position = 0
    for match in scanner(lex).finditer(text):
        builder.keep(position, match.start())
        reader.dispatch(match)
        position = match.end()
    builder.keep(position, len(text))
    return builder.build()


class _Reader:
    def __init__(self, text: str, lex: Lexicon, builder: SpokenBuilder) -> None:
        self.text = text
        self.lex = lex
        self.out = builder

    def dispatch(self, match: re.Match[str]) -> None:
        # Each alternative's outer group closes last, so it is the match's ``lastgroup``.
        kind = match.lastgroup
        handler = getattr(self, f"_{kind}", None)
        if kind is None or handler is None:
            self.out.keep(match.start(), match.end())
            return
        handler(match)

    # ---- helpers -------------------------------------------------------------------------------

    def _say(self, start: int, end: int, spoken: str) -> None:
        self.out.replace(start, end, spoken)

    def numbers_in(self, start: int, end: int) -> None:
        """Fallback: every digit run read as a number, everything between kept."""
        position = start
        for run in _DIGIT_RUN.finditer(self.text, start, end):
            between = self.text[position : run.start()]
            if position > start and between in (".", ","):
                # "1.2.3" one dot two dot three; "1,2,3" one, two, three.
                spoken = self.lex.dot if between == "." else ","
                if not self.lex.spaced:
                    spoken = spoken if between == "." else "，"
                elif between == ".":
                    spoken = f" {spoken} "
                else:
                    spoken += " "
                self._say(position, run.start(), spoken)
            else:
                self.out.keep(position, run.start())
            self._say(run.start(), run.end(), self.integer(run.group()))
            position = run.end()
        self.out.keep(position, end)

    def integer(self, digits: str) -> str:
        if len(digits) > 1 and digits.startswith("0"):
            return self.lex.speller.digits(digits, " " if self.lex.spaced else "")
        return self.lex.speller.number(digits)

    def number(self, raw: str, allow_year: bool = True) -> str | None:
        written = read_number(raw, self.lex.decimal_mark, self.lex.group_marks, self.lex.indian_grouping)
        if written is None:
            return None
        if written.fraction is None:
            value = int(written.integer)
            low, high = self.lex.year_range
            if allow_year and low <= value <= high and len(raw) == len(str(value)):
                return self.lex.say_year(self.lex, value)
            return self.integer(written.integer)
        return self.lex.decimal(written.integer, written.fraction)

    # ---- handlers, one per named alternative in patterns.scanner -------------------------------

    def _tag(self, match: re.Match[str]) -> None:
        self.out.keep(match.start(), match.end())

    def _url(self, match: re.Match[str]) -> None:
        url = match.group()
        trimmed = url.rstrip(".,;:!?")
        end = match.start() + len(trimmed)
        body = re.sub(r"^https?://", "", trimmed).rstrip("/")
        self._say(match.start(), end, self._spell_address(body))
        self.out.keep(end, match.end())

    def _email(self, match: re.Match[str]) -> None:
        local, _, domain = match.group().partition("@")
        spoken = self.lex.join(self._spell_address(local), self.lex.at, self._spell_address(domain))
        self._say(match.start(), match.end(), spoken)

    def _spell_address(self, address: str) -> str:
        words = {".": self.lex.dot, "/": self.lex.slash, "@": self.lex.at}
        pieces: list[str] = []
        for piece in re.split(r"([./@])", address):
            if piece in words:
                pieces.append(words[piece])
            elif piece.isdigit():
                pieces.append(self.integer(piece))
            elif piece:
                pieces.append(piece)
        return (" " if self.lex.spaced else "").join(pieces)

    def _longdigits(self, match: re.Match[str]) -> None:
        self._say(match.start(), match.end(), self.lex.speller.digits(match.group()))

    def _phone(self, match: re.Match[str]) -> None:
        separator = " " if self.lex.spaced else ""
        groups = re.findall(r"\+|\d+", match.group())
        words = [self.lex.speller.digits(group, separator) for group in groups if group != "+"]
        if groups and groups[0] == "+":
            words[0] = self.lex.join(self.lex.plus, words[0])
        self._say(match.start(), match.end(), (", " if self.lex.spaced else "，").join(words))

    def _isodate(self, match: re.Match[str]) -> None:
        self._date_of(match, int(match["iy"]), int(match["im"]), int(match["id"]))

    def _date(self, match: re.Match[str]) -> None:
        first, second, year = int(match["d1"]), int(match["d2"]), int(match["d3"])
        if len(match["d3"]) == 2:
            year += CENTURY
        month_first = match["dsep"] == "/" and self.lex.date_order in ("MDY", "YMD")
        month, day = (first, second) if month_first else (second, first)
        self._date_of(match, year, month, day)

    def _date_of(self, match: re.Match[str], year: int | None, month: int, day: int) -> None:
        if not (1 <= month <= MONTHS_IN_YEAR and 1 <= day <= DAYS_IN_MONTH):
            self.numbers_in(match.start(), match.end())
            return
        self._say(match.start(), match.end(), self.lex.say_date(self.lex, year, month, day))

    def _time(self, match: re.Match[str]) -> None:
        groups = match.groupdict()
        hour_text = groups["hh"] or groups["hh2"] or groups.get("hh3") or "0"
        minute_text = groups["mm"] or groups.get("mm3") or "0"
        suffix = match["ampm"] or match["ampm2"]
        hour, minute = int(hour_text), int(minute_text)
        if hour > HOURS_IN_DAY or minute >= MINUTES_IN_HOUR or (suffix and not 1 <= hour <= 12):
            self.numbers_in(match.start(), match.end())
            return
        spoken = self.lex.say_time(self.lex, hour, minute, suffix)
        if suffix and suffix.endswith(".") and self._sentence_ends(match.end()):
            spoken += "."
        self._say(match.start(), match.end(), spoken)

    def _sentence_ends(self, position: int) -> bool:
        """Whether a period eaten with an abbreviation also ended the sentence: the text ends, or
        a line or a capitalised word follows."""
        following = self.text[position : position + 2]
        if not following or following[0] == "\n":
            return True
        # German capitalises every noun: there only the end of the text or a line tells.
        return self.lex.language != "de" and following[0] == " " and following[1:].isupper()

    def _fraction(self, match: re.Match[str]) -> None:
        numerator, denominator = int(match["fn"]), int(match["fd"])
        if not 0 < numerator < denominator <= MAX_FRACTION_DENOMINATOR:
            # "24/7", "9/11": the numbers one after the other.
            spoken = self.lex.join(self.integer(match["fn"]), self.integer(match["fd"]))
            self._say(match.start(), match.end(), spoken)
            return
        self._say(match.start(), match.end(), self._fraction_words(numerator, denominator))

    def _fraction_words(self, numerator: int, denominator: int) -> str:
        lex = self.lex
        if (numerator, denominator) == (1, 2):
            return lex.half
        if lex.denominator_first:
            return lex.join(lex.cardinal(denominator) + lex.over, lex.cardinal(numerator))
        if lex.language == "en":
            name = {2: "half", 4: "quarter"}.get(denominator) or lex.speller.ordinal(denominator)
            if numerator > 1:
                name = "halves" if name == "half" else name + "s"
            return f"{lex.cardinal(numerator)} {name}"
        return lex.join(lex.cardinal(numerator), lex.over, lex.cardinal(denominator))

    def _dayofmonth(self, match: re.Match[str]) -> None:
        day = int(match["dm"])
        month = self.lex.months.index(match["month"]) + 1
        if not 1 <= day <= DAYS_IN_MONTH:
            self.numbers_in(match.start(), match.end())
            return
        if self.lex.language == "en":
            spoken = f"the {self.lex.speller.ordinal(day)} of {match['month']}"
        else:
            spoken = self.lex.say_date(self.lex, None, month, day)
        self._say(match.start(), match.end(), spoken)

    def _monthday(self, match: re.Match[str]) -> None:
        day = int(match["md"])
        if not 1 <= day <= DAYS_IN_MONTH:
            self.numbers_in(match.start(), match.end())
            return
        month = self.lex.months.index(match["month2"]) + 1
        self._say(match.start(), match.end(), self.lex.say_date(self.lex, None, month, day))

    def _dedot(self, match: re.Match[str]) -> None:
        article = match["art"]
        # Dative articles take the -n ending ("am dritten"), the others -e ("der dritte").
        ruleset = (
            "spellout-ordinal-n"
            if article.lower() in ("den", "dem", "am", "im", "vom", "zum", "zur", "beim")
            else "spellout-ordinal"
        )
        self.out.keep(match.start(), match.start("dd"))
        self._say(match.start("dd"), match.end(), self.lex.speller.ordinal(int(match["dd"]), ruleset))

    def _numsign(self, match: re.Match[str]) -> None:
        self._say(match.start(), match.end(), self.lex.number_sign + (" " if self.lex.spaced else ""))

    def _abbr(self, match: re.Match[str]) -> None:
        written = match.group()
        spoken = self.lex.all_abbreviations()[written]
        following = self.text[match.end() : match.end() + 2]
        if written == "St." and self.lex.language == "en" and len(following) == 2 and following[1].isupper():
            spoken = "Saint"
        if (
            written.endswith(".")
            and written != "St."
            and self._sentence_ends(match.end())
            and not self._title(written)
        ):
            spoken += "."
        self._say(match.start(), match.end(), spoken)

    def _title(self, written: str) -> bool:
        """A title ("Dr.", "Mr.") always precedes a name: its period never ends a sentence."""
        return written in TITLES

    def _acronym(self, match: re.Match[str]) -> None:
        word = match.group()
        stem = word[:-1] if match["acrs"] else word
        if stem in SPELLED_ACRONYMS or not _VOWELS.intersection(stem):
            self._say(match.start(), match.start() + len(stem), " ".join(stem))
            self.out.keep(match.start() + len(stem), match.end())
        elif match["acrs"] and (word in SPELLED_ACRONYMS or not _VOWELS.intersection(word)):
            self._say(match.start(), match.end(), " ".join(word))
        else:
            self.out.keep(match.start(), match.end())

    def _hashtag(self, match: re.Match[str]) -> None:
        self._say(match.start(), match.end(), self.lex.hashtag + " ")

    def _mention(self, match: re.Match[str]) -> None:
        self._say(match.start(), match.end(), self.lex.at + " ")

    def _symbol(self, match: re.Match[str]) -> None:
        symbol = match.group()
        words = {"&": self.lex.and_word, "+": self.lex.plus, "@": self.lex.at, "%": self.lex.percent}
        spoken = words[symbol]
        before = self.text[match.start() - 1 : match.start()]
        after = self.text[match.end() : match.end() + 1]
        if self.lex.spaced:
            spoken = ("" if not before or before.isspace() else " ") + spoken
            spoken += "" if not after or after.isspace() else " "
        self._say(match.start(), match.end(), spoken)

    def _dots(self, match: re.Match[str]) -> None:
        if match.group() == "...":
            self.out.keep(match.start(), match.end())
        else:
            self._say(match.start(), match.end(), "...")

    def _bangs(self, match: re.Match[str]) -> None:
        run = match.group()
        asked = "?" in run or "？" in run
        if run[0] in "¡¿":
            self._say(match.start(), match.end(), "¿" if "¿" in run else "¡")
        elif "！" in run or "？" in run:
            self._say(match.start(), match.end(), "？" if asked else "！")
        else:
            self._say(match.start(), match.end(), "?" if asked else "!")

    def _emoji(self, match: re.Match[str]) -> None:
        end = match.end()
        # Keep one space when the emoji sat between two words ("Great 👍 thanks").
        before = self.text[match.start() - 1 : match.start()]
        if match.group().endswith(" ") and (not before or before.isspace()):
            self._say(match.start(), end, "")
        elif match.group().endswith(" "):
            self._say(match.start(), end - 1, "")
            self.out.keep(end - 1, end)
        else:
            self._say(match.start(), end, "")

    def _amount(self, match: re.Match[str]) -> None:
        read_amount(self, match)
