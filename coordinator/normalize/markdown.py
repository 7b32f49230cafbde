"""Chat markdown made for the ear: what a chat model writes (``**bold**``, bullets, numbered steps,
headings, code fences, tables, links) turned into text a voice can read, with the span map back to
what the model wrote (``spans.py``).

Streaming: a reply is read as the model writes it, so ``ChatMarkdown.feed`` takes pieces of any
size and returns the speakable text it can already be sure of; state (an open code fence, a table,
a link's address being skipped, a marker cut in two by the pieces) carries over from one piece to
the next. ``finish`` ends the text. Every step is a single left-to-right pass with bounded
look-back and hold-back, so hostile input costs time linear in its length (no backtracking regex).

What is read and what is not:

- emphasis markers (``**`` ``__`` ``*`` ``_`` ``~~`` and inline code's backticks) are dropped; a
  ``*`` or ``_`` between two letters or digits (``snake_case``, ``5*3``) or between two spaces
  (``2 * 3``) is not a marker and stays;
- a heading or list item becomes a sentence: its marker is dropped, and a full stop is added where
  it ends without one (a colon stays: "Ingredients:" leads into the list);
- a numbered item's "1." becomes "1," (the number is then read in the reply's language): a person
  reading steps aloud says "one, preheat the oven", not "one. preheat the oven" (a sentence of its
  own) or "first item";
- a code block or a table is replaced by one short stand-in in the reply's language ("Code
  omitted.") and nothing of it is read: read symbol by symbol it is noise, and skipped silently the
  listener cannot tell that the written reply holds more than they heard;
- a link is read by its text, an image by its alt text; the address is not read;
- block-quote markers, horizontal rules and HTML tags are dropped (``<br>`` is a space); Orpheus'
  emotion tags (``<laugh>`` …) pass untouched;
- a backslash escape (``\\*``) is read as the character it escapes.
"""

from __future__ import annotations

import re

from coordinator.normalize.spans import Spoken, SpokenBuilder
from coordinator.orpheus.layout import EMOTION_TAGS

# (code block, table) stand-ins per language (ISO 639-1); a language not listed gets English's.
STAND_INS: dict[str, tuple[str, str]] = {
    "en": ("Code omitted.", "Table omitted."),
    "fr": ("Code omis.", "Tableau omis."),
    "de": ("Code ausgelassen.", "Tabelle ausgelassen."),
    "es": ("Código omitido.", "Tabla omitida."),
    "it": ("Codice omesso.", "Tabella omessa."),
    "ko": ("코드는 생략합니다.", "표는 생략합니다."),
    "zh": ("代码已省略。", "表格已省略。"),
    "hi": ("कोड छोड़ दिया गया।", "तालिका छोड़ दी गई।"),
}
# The full stop a heading or list item gets where it has none, per language (default ".").
FULL_STOPS = {"zh": "。", "ja": "。", "hi": "।"}
# What a heading or list item may already end with (a colon leads into what follows).
_ENDED = frozenset(".!?…:;。！？｡।॥")

# A line is classified once it holds a character outside these (or once it is this long): until
# then it may still become a heading, a list item, a rule, a fence or a table row.
_UNDECIDED = re.compile(r"[ \t#>\-*+_=~`|0-9.)\[\]xX]*")
MAX_PREFIX = 64
_QUOTE = re.compile(r"[ \t]*>[ \t]?")
_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})")
_TABLE = re.compile(r"[ \t]*\|")
_HEADING = re.compile(r"[ \t]*#{1,6}(?:[ \t]+|$)")
_BULLET = re.compile(r"[ \t]*[-*+][ \t]+(?:\[[ xX]\][ \t]+)?")
# Up to three digits: a list, not a year ("2024. was a good year" is a sentence).
_NUMBERED = re.compile(r"[ \t]*([0-9]{1,3})[.)][ \t]+")
_RULE_CHARS = frozenset("-*_=")
MIN_RULE_MARKS = 3
# Inline text with nothing to do, kept in one step.
_PLAIN = re.compile(r"[^\\*_~`!\[\]<]+")
_ESCAPABLE = frozenset("\\`*_{}[]()#+-.!|~<>")
# A run of emphasis markers longer than this is decided without waiting for what follows it (a
# hostile run fed one character at a time would otherwise be rescanned on every piece).
MAX_MARKER_RUN = 16
# An HTML tag (or autolink) is at most this long; a "<" with no ">" within it is read as written.
MAX_TAG = 200
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:[ \t/][^<>]*)?>")
_AUTOLINK = re.compile(r"<(?:[A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\s]*|[^<>\s@]+@[^<>\s@]+)>")
_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_EMOTION_TAGS = frozenset(EMOTION_TAGS)
# A link's address longer than this is not an address: skipping stops there.
MAX_LINK_ADDRESS = 2048

# Line kinds: read inline (streamed) or decided on the whole line (held until its end).
_PARAGRAPH, _ITEM, _FENCE_OPEN, _IN_FENCE, _TABLE_ROW = "paragraph", "item", "fence", "in_fence", "table"
_WHOLE_LINE = frozenset({_FENCE_OPEN, _IN_FENCE, _TABLE_ROW})


def speakable(text: str, language: str = "en") -> Spoken:
    """A whole markdown ``text`` as it is read aloud, with the span map."""
    reader = ChatMarkdown(language)
    reader.feed(text)
    reader.finish()
    return reader.spoken()


class ChatMarkdown:
    """Reads a chat reply's markdown as it is written (see the module's docstring)."""

    def __init__(self, language: str = "en") -> None:
        self._code, self._table = STAND_INS.get(language, STAND_INS["en"])
        self._full_stop = FULL_STOPS.get(language, ".")
        self._original = ""
        self._builder = SpokenBuilder("")
        self._out: list[str] = []
        self._line = 0  # where the current line starts
        self._pos = 0  # everything before it is read
        self._searched = 0  # no newline before this
        self._kind: str | None = None  # the current line's, once decided
        self._fence: str | None = None  # the open code fence's marker
        self._in_table = False
        self._link_depth = 0  # > 0: skipping a link's address, at this bracket depth
        self._link_skipped = 0
        self._last = ""  # the last character of the line's content that is spoken
        self._drop_newline = False  # the current line is read as nothing, its end too

    def feed(self, text: str) -> str:
        """Read ``text``, the next piece; returns the spoken text now certain."""
        self._original += text
        self._builder.original = self._original
        return self._advance(final=False)

    def finish(self) -> str:
        """The text is complete: returns the spoken text held back until now."""
        return self._advance(final=True)

    def spoken(self) -> Spoken:
        """Everything read so far, with its span map."""
        return self._builder.build()

    # --- emitting -----------------------------------------------------------------------------

    def _keep(self, start: int, end: int) -> None:
        if start < end:
            self._builder.keep(start, end)
            self._out.append(self._original[start:end])
            content = self._original[start:end].rstrip()
            if content:
                self._last = content[-1]

    def _replace(self, start: int, end: int, spoken: str) -> None:
        if start == end and not spoken:
            return
        self._builder.replace(start, end, spoken)
        self._out.append(spoken)

    # --- lines --------------------------------------------------------------------------------

    def _advance(self, *, final: bool) -> str:
        self._out = []
        text = self._original
        while True:
            newline = text.find("\n", max(self._pos, self._searched))
            self._searched = len(text) if newline == -1 else newline
            end = len(text) if newline == -1 else newline
            complete = newline != -1 or final
            if self._kind is None:
                if not complete and self._undecided(end):
                    break
                self._classify(end, complete=complete)
            if self._kind in _WHOLE_LINE:
                if not complete:
                    break
                self._whole_line(end)
            else:
                self._inline(end, final=complete)
                if not complete:
                    break
                self._end_item(end)
            if newline == -1:
                break
            if self._drop_newline:  # a line read as nothing leaves no blank line behind
                self._replace(newline, newline + 1, "")
            else:
                self._keep(newline, newline + 1)
            self._drop_newline = False
            self._line = self._pos = newline + 1
            self._kind = None
        return "".join(self._out)

    def _undecided(self, end: int) -> bool:
        length = end - self._line
        return length <= MAX_PREFIX and _UNDECIDED.fullmatch(self._original, self._line, end) is not None

    def _classify(self, end: int, *, complete: bool) -> None:
        text, start = self._original, self._line
        self._last = ""
        if self._fence is not None:
            self._kind = _IN_FENCE
            return
        # Markers are looked for in a line's first MAX_PREFIX characters only, however much of it
        # has arrived: the line reads the same whatever pieces it came in.
        line_end, end = end, min(end, start + MAX_PREFIX)
        quoted = start
        while (quote := _QUOTE.match(text, quoted, end)) is not None and quote.end() > quoted:
            quoted = quote.end()
        if _FENCE.match(text, quoted, end):
            self._kind = _FENCE_OPEN
        elif _TABLE.match(text, quoted, end):
            self._kind = _TABLE_ROW
        else:
            self._in_table = False
            # A rule is all markers: a line that short is classified once complete.
            rule = complete and line_end - start <= MAX_PREFIX and _is_rule(text[quoted:line_end])
            self._inline_line(start, quoted, end, rule=rule)

    def _inline_line(self, start: int, quoted: int, end: int, *, rule: bool) -> None:
        text = self._original
        self._replace(start, quoted, "")
        self._kind = _PARAGRAPH
        if rule:
            self._replace(quoted, end, "")  # a horizontal rule, or a setext heading's underline
            self._pos = end
            return
        heading = _HEADING.match(text, quoted, end)
        bullet = _BULLET.match(text, quoted, end)
        numbered = _NUMBERED.match(text, quoted, end)
        if heading or bullet:
            marker = heading or bullet
            assert marker is not None
            self._replace(quoted, marker.end(), "")
            self._kind, self._pos = _ITEM, marker.end()
        elif numbered:
            self._replace(quoted, numbered.end(), f"{numbered.group(1)}, ")
            self._kind, self._pos = _ITEM, numbered.end()
        else:
            self._pos = quoted

    def _whole_line(self, end: int) -> None:
        text, start = self._original, self._line
        if self._kind == _IN_FENCE:
            assert self._fence is not None
            closing = text[start:end].strip()
            if closing.startswith(self._fence) and set(closing) == {self._fence[0]}:
                self._fence = None
            self._replace(start, end, "")
            self._drop_newline = True
        elif self._kind == _FENCE_OPEN:
            fence = _FENCE.search(text, start, end)
            assert fence is not None
            self._fence = fence.group(1)
            self._replace(start, end, self._code)
        elif not self._in_table:
            self._in_table = True
            self._replace(start, end, self._table)
        else:
            self._replace(start, end, "")
            self._drop_newline = True
        self._pos = end

    def _end_item(self, end: int) -> None:
        """A heading or list item that ends without punctuation gets a full stop."""
        self._link_depth = 0
        if self._kind == _ITEM and self._last and self._last not in _ENDED:
            self._replace(end, end, self._full_stop)

    # --- inline -------------------------------------------------------------------------------

    def _inline(self, end: int, *, final: bool) -> None:
        text = self._original
        i = self._pos
        while i < end:
            char = text[i]
            if self._link_depth:
                i = self._skip_address(i, end)
                continue
            plain = _PLAIN.match(text, i, end)
            if plain is not None:
                self._keep(i, plain.end())
                i = plain.end()
                continue
            if i + 1 >= end and not final and char in "\\*_~!]":
                break  # what it means depends on the next character
            if char == "\\":
                following = text[i + 1] if i + 1 < end else ""
                if following in _ESCAPABLE and following:
                    self._replace(i, i + 1, "")
                    self._keep(i + 1, i + 2)
                    i += 2
                else:
                    self._keep(i, i + 1)
                    i += 1
            elif char in "*_~":
                run = _run_length(text, i, end)
                if i + run >= end and not final and run < MAX_MARKER_RUN:
                    break
                i = self._marker(i, run, end)
            elif char == "`" or char == "[":
                self._replace(i, i + 1, "")
                i += 1
            elif char == "!":
                following = text[i + 1] if i + 1 < end else ""
                if following == "[":  # an image: read by its alt text
                    self._replace(i, i + 1, "")
                else:
                    self._keep(i, i + 1)
                i += 1
            elif char == "]":
                if i + 1 < end and text[i + 1] == "(":
                    self._replace(i, i + 2, "")
                    self._link_depth, self._link_skipped = 1, 0
                    i += 2
                else:
                    self._replace(i, i + 1, "")
                    i += 1
            else:  # "<"
                tag_end = text.find(">", i, min(end, i + MAX_TAG))
                if tag_end == -1 and not final and end - i < MAX_TAG:
                    break  # the tag may still be arriving
                i = self._tag(i, tag_end)
        self._pos = i

    def _skip_address(self, i: int, end: int) -> int:
        text = self._original
        start = i
        while i < end and self._link_depth and self._link_skipped < MAX_LINK_ADDRESS:
            if text[i] == "(":
                self._link_depth += 1
            elif text[i] == ")":
                self._link_depth -= 1
            self._link_skipped += 1
            i += 1
        if self._link_skipped >= MAX_LINK_ADDRESS:
            self._link_depth = 0
        self._replace(start, i, "")
        return i

    def _marker(self, i: int, run: int, end: int) -> int:
        text, char = self._original, self._original[i]
        before = text[i - 1] if i > self._line else " "
        after = text[i + run] if i + run < end else " "
        if char == "~":
            marker = run >= 2  # "~~" strikes through; a single "~" is "about"
        elif before.isspace() and after.isspace():
            marker = False  # "2 * 3"
        else:
            marker = not (before.isalnum() and after.isalnum())  # "snake_case", "5*3"
        if marker:
            self._replace(i, i + run, "")
        else:
            self._keep(i, i + run)
        return i + run

    def _tag(self, i: int, tag_end: int) -> int:
        text = self._original
        if tag_end == -1:
            self._keep(i, i + 1)
            return i + 1
        tag = text[i : tag_end + 1]
        if tag in _EMOTION_TAGS:
            self._keep(i, tag_end + 1)
        elif _AUTOLINK.fullmatch(tag):
            self._replace(i, i + 1, "")
            self._keep(i + 1, tag_end)
            self._replace(tag_end, tag_end + 1, "")
        elif _BREAK_TAG.fullmatch(tag):
            self._replace(i, tag_end + 1, " ")
        elif _HTML_TAG.fullmatch(tag):
            self._replace(i, tag_end + 1, "")
        else:
            self._keep(i, i + 1)
            return i + 1
        return tag_end + 1


def _run_length(text: str, start: int, end: int) -> int:
    char, i = text[start], start
    while i < end and text[i] == char and i - start < MAX_MARKER_RUN:
        i += 1
    return i - start


def _is_rule(line: str) -> bool:
    marks = line.replace(" ", "").replace("\t", "").replace("\r", "")
    return len(marks) >= MIN_RULE_MARKS and len(set(marks)) == 1 and marks[0] in _RULE_CHARS
