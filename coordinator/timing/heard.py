"""One utterance heard: its words timed and its text checked, from one alignment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from coordinator.normalize.spans import Spoken
from coordinator.timing.align import (
    HeardWord,
    Sound,
    WordTiming,
    align,
    heard_tokens,
    reference_tokens,
    timings_of,
)
from coordinator.timing.check import DEFAULT_MAX_WORD_ERROR, Check, check


@dataclass(frozen=True)
class Heard:
    """What the recogniser made of one utterance: each original word timed (seconds from the
    utterance's start) and the check of its text."""

    words: tuple[WordTiming, ...]
    check: Check


def hear(
    spoken: Spoken,
    words: Sequence[HeardWord],
    *,
    language: str,
    duration: float,
    sound: Sound | None = None,
    max_word_error: float = DEFAULT_MAX_WORD_ERROR,
) -> Heard:
    """``spoken`` (an utterance with its map to the original) against the recogniser's ``words``
    on its audio (``duration`` seconds; ``sound``: its loud frames, to draw words in to them)."""
    alignment = align(reference_tokens(spoken), heard_tokens(words, language))
    text = "".join(word.text for word in words).strip()
    return Heard(
        words=tuple(timings_of(spoken, alignment, duration, sound)),
        check=check(alignment, text, max_word_error=max_word_error),
    )
