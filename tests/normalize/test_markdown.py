"""Chat markdown made for the ear: real chat-model reply shapes (Gemma- and ChatGPT-like) →
what the voice says, the span map back to what the model wrote checked on every case, the same
result however the reply is cut into streamed pieces, and bounded time on hostile input."""

from __future__ import annotations

import random
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.normalize.markdown import STAND_INS, ChatMarkdown, speakable
from coordinator.normalize.spans import Spoken, SpokenBuilder, compose, pieces

CODE, TABLE = STAND_INS["en"]

# (what the chat model wrote, what the voice says)
CASES: list[tuple[str, str]] = [
    (  # Gemma: bold lead-ins in a numbered list
        "Sure! Here are **three tips** for better sleep:\n\n"
        "1. **Keep a schedule.** Go to bed at the same time.\n"
        "2. **Limit screens** before bed\n"
        "3. *Avoid caffeine* after 2 pm\n\n"
        "Sleep well! 😊",
        "Sure! Here are three tips for better sleep:\n\n"
        "1, Keep a schedule. Go to bed at the same time.\n"
        "2, Limit screens before bed.\n"
        "3, Avoid caffeine after 2 pm.\n\n"
        "Sleep well! 😊",
    ),
    (  # ChatGPT: headings, bullets, a nested bullet
        "## Quick Summary\n\n- **Paris** is the capital of France\n- About 2 million people live there"
        "\n  - more in the region\n\n### Details\nIt sits on the Seine.",
        "Quick Summary.\n\nParis is the capital of France.\nAbout 2 million people live there."
        "\nmore in the region.\n\nDetails.\nIt sits on the Seine.",
    ),
    (  # a code fence and inline code
        "To install it, run:\n\n```bash\npip install requests\n```\n\nThen import it with `import requests`.",
        f"To install it, run:\n\n{CODE}\n\nThen import it with import requests.",
    ),
    (  # a table
        "| Name | Age |\n|------|-----|\n| Ann | 30 |\n| Bob | 25 |\n\nAnn is the oldest.",
        f"{TABLE}\n\nAnn is the oldest.",
    ),
    (  # links and an image
        "Check the [official docs](https://docs.python.org/3/) or see ![a diagram](img/a_(b).png).",
        "Check the official docs or see a diagram.",
    ),
    (  # a quote, a rule, strike-through, HTML and an autolink
        "> Be yourself.\n\n---\n\nThat's ~~wrong~~ right.<br>Write to <info@example.com> or <b>call</b>.",
        "Be yourself.\n\n\n\nThat's wrong right. Write to info@example.com or call.",
    ),
    (  # emotion tags pass untouched
        "Oh <laugh> that's **so** funny! <sigh> Anyway.",
        "Oh <laugh> that's so funny! <sigh> Anyway.",
    ),
    (  # what is not markdown stays
        "snake_case_name, 2 * 3 = 6, 5*3, C# and F#, #1 hit, 3 < 4, ~5 km. 2024. was good.",
        "snake_case_name, 2 * 3 = 6, 5*3, C# and F#, #1 hit, 3 < 4, ~5 km. 2024. was good.",
    ),
    (  # escapes, a task list, a heading that ends in a question mark
        "# Why?\n- [x] done\n- [ ] \\*not\\* done",
        "Why?\ndone.\n*not* done.",
    ),
    (  # a setext heading, an underscore heading, bold with underscores
        "Overview\n========\n__Important__: read this",
        "Overview\n\nImportant: read this",
    ),
    (  # a reply that ends inside an open code fence reads nothing of it
        "Here it is:\n```\nwhile True:\n    pass",
        f"Here it is:\n{CODE}\n",
    ),
]


def assert_map(spoken: Spoken) -> None:
    """The spans cover the spoken text in order without gaps, point inside the original in order,
    and every spoken character kept as written maps to the very character written (markup dropped
    after it joins its span)."""
    position, last_start = 0, 0
    for span in spoken.spans:
        assert span.spoken_start == position < span.spoken_end, spoken.spans
        assert last_start <= span.original_start <= span.original_end <= len(spoken.original)
        position, last_start = span.spoken_end, span.original_start
        said = spoken.text[span.spoken_start : span.spoken_end]
        written = spoken.original[span.original_start : span.original_end]
        if not written.startswith(said):  # a replacement: a stand-in, a list number, a full stop, a space
            number = re.fullmatch(r"([0-9]+), ", said)
            assert said in (CODE, TABLE, ".", " ") or (number and number.group(1) in written), (said, written)
    assert position == len(spoken.text)


def streamed(text: str, cuts: list[int]) -> tuple[str, Spoken]:
    reader = ChatMarkdown()
    out, start = [], 0
    for cut in [*cuts, len(text)]:
        out.append(reader.feed(text[start:cut]))
        start = cut
    out.append(reader.finish())
    return "".join(out), reader.spoken()


@pytest.mark.parametrize(("written", "said"), CASES)
def test_a_chat_reply_is_read_for_the_ear_with_its_map_to_what_was_written(written, said):
    spoken = speakable(written)
    assert spoken.text == said
    assert spoken.original == written
    assert_map(spoken)


@pytest.mark.parametrize(("written", "said"), CASES)
def test_the_reply_reads_the_same_however_it_is_streamed(written, said):
    whole = speakable(written)
    one_by_one = streamed(written, list(range(1, len(written))))
    rng = random.Random(len(written))
    chunked = streamed(written, sorted(rng.sample(range(1, len(written)), len(written) // 4)))
    for text, spoken in (one_by_one, chunked):
        assert text == said
        assert spoken == whole


def test_a_spoken_word_maps_to_the_characters_written():
    # Markup dropped after a word joins its span (SpokenBuilder.replace): "Bold" points at
    # "Bold**", starting where the word was written.
    spoken = speakable("1. **Bold** step\n- [the docs](https://x.org)")
    bold = spoken.text.index("Bold")
    start, end = spoken.original_range(bold, bold + len("Bold"))
    assert spoken.original[start:end] == "Bold**"
    docs = spoken.text.index("docs")
    start, end = spoken.original_range(docs, docs + 4)
    assert spoken.original[start:end] == "the docs](https://x.org)"


def test_a_code_fence_opened_in_one_piece_and_closed_later_is_never_read():
    reader = ChatMarkdown()
    pieces_said = [
        reader.feed(piece)
        for piece in ("Run this.\n``", "`py", "thon\nimport os\n", "print(os.name)\n`", "``\nDone. ")
    ]
    said = "".join(pieces_said) + reader.finish()
    assert "import" not in said and "print" not in said
    assert said.endswith("Done. ")


def test_the_stand_ins_are_in_the_replys_language():
    assert speakable("```\nx\n```", "fr").text == STAND_INS["fr"][0] + "\n"
    assert speakable("- 第一项", "zh").text == "第一项。"
    assert speakable("```\nx\n```", "xx").text == CODE + "\n"


def test_compose_points_a_spoken_word_through_both_steps_at_the_original():
    markdown = speakable("**Call** 555")
    # A stand-in for a normaliser that reads "555" as words, built with the same span map.
    sentence = markdown.text
    builder = SpokenBuilder(sentence)
    builder.keep(0, 5)
    builder.replace(5, 8, "five five five")
    read = compose(markdown, builder.build())
    assert read.text == "Call five five five"
    five = read.text.index("five")
    start, end = read.original_range(five, five + 4)
    assert read.original[start:end] == "555"
    call_start, call_end = read.original_range(0, 4)
    assert read.original[call_start:call_end] == "Call** "  # the markup dropped after it joins it
    first, second = pieces(read, ["Call five", "five five"])
    assert (first.text, second.text) == ("Call five", "five five")
    assert read.original[slice(*second.original_range(0, len(second.text)))] == "555"


# -- hostile input ----------------------------------------------------------------------------

HOSTILE_LENGTH = 20_000
# Linear work: tens of milliseconds on a busy CI core; a quadratic blow-up would take minutes.
HOSTILE_BOUND_S = 5.0


@pytest.mark.parametrize(
    "unit",
    ["*", "_", "~", "`", "[", "]", "](", "![", "<", "<a ", "\\", "|", "#", "> ", "1. ", "- ", "**a", "\n"],
)
def test_hostile_markdown_costs_linear_time_whole_or_one_character_at_a_time(unit):
    text = unit * (HOSTILE_LENGTH // len(unit))
    began = time.perf_counter()
    whole = speakable(text)
    reader = ChatMarkdown()
    for char in text:
        reader.feed(char)
    reader.finish()
    assert time.perf_counter() - began < HOSTILE_BOUND_S
    assert reader.spoken() == whole
    assert_map(whole)


MARKDOWN_ALPHABET = "ab1 .:*_~`![]()<>#|\\->\n\tx=+"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=MARKDOWN_ALPHABET, max_size=200), st.lists(st.integers(0, 200), max_size=8))
def test_any_text_keeps_a_whole_map_and_streams_the_same(text, cuts):
    whole = speakable(text)
    assert_map(whole)
    assert streamed(text, sorted({c for c in cuts if 0 < c < len(text)}))[1] == whole
