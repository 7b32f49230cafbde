"""Hostile and random text: the normaliser never fails, keeps its span map whole, and takes time
linear in the text (no regex backtracking blow-up)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.normalize.api import spoken_form
from tests.normalize.span_checks import check_spans

LANGUAGES = ["en", "fr", "de", "es", "it", "ko", "zh", "hi"]
# Measured on the shared 2-core development machine (docs/normalization.md): the worst hostile
# string below took about 20 ms per 1,000 characters; the bound is ten times that, loosely.
MEASURED_WORST_S_PER_1000 = 0.020
MARGIN = 10
BOUND_S_PER_1000 = MEASURED_WORST_S_PER_1000 * MARGIN
# Time any call may take whatever its length (interpreter noise, a cold cache).
FLOOR_S = 0.5
HOSTILE_LENGTH = 10_000
# The shapes a backtracking pattern would choke on: long runs of what the number, e-mail, URL,
# phone and punctuation patterns start with but never finish.
HOSTILE = {
    "dots": "1.",
    "commas": "1,",
    "digits": "9",
    "phone": "+1 ",
    "at": "a@",
    "local": "a.",
    "url": "http://a",
    "bangs": "!?",
    "dashes": "1-",
    "slashes": "1/",
    "colons": "1:",
    "spaced": "1 ",
    "capitals": "ABC ",
    "emoji": "😀",
    "mixed": "$1.5 million 3-5 kg 12:30pm 1/2 Dr. 😀 <laugh> ",
    "counters": "第3名2个3개",
}
ALPHABET = "0123456789 .,:;/-+–%$€£¥₩₹@#&!?…()'\"°aAbBzZkmgh\n😀👍<>laugh月日년원िक"


def _bounded(seconds: float, length: int) -> bool:
    return seconds <= FLOOR_S + BOUND_S_PER_1000 * length / 1000


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_runs_take_linear_time(language: str, name: str) -> None:
    unit = HOSTILE[name]
    text = (unit * (HOSTILE_LENGTH // len(unit) + 1))[:HOSTILE_LENGTH]
    started = time.perf_counter()
    spoken = spoken_form(text, language)
    elapsed = time.perf_counter() - started
    assert _bounded(elapsed, len(text)), f"{name} in {language}: {elapsed:.2f} s for {len(text)} characters"
    check_spans(spoken, language)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(text=st.text(alphabet=ALPHABET, max_size=400), language=st.sampled_from(LANGUAGES))
def test_random_text_keeps_the_span_map_and_the_time_bound(text: str, language: str) -> None:
    started = time.perf_counter()
    spoken = spoken_form(text, language)
    elapsed = time.perf_counter() - started
    assert _bounded(elapsed, len(text))
    check_spans(spoken, language)
    # Deterministic: the same text reads the same way twice.
    assert spoken_form(text, language) == spoken
