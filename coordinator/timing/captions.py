"""WebVTT and SRT captions from word timings: words grouped into cues of at most a line's
characters and a few seconds, a cue ending after a sentence's last word."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from coordinator.timing.align import WordTiming

# Broadcast subtitling's usual line (BBC and Netflix guidelines: 37-42 characters) and the longest
# a cue stays on screen.
MAX_CUE_CHARS = 42
MAX_CUE_SECONDS = 5.0
_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def cues(
    words: Sequence[WordTiming], *, max_chars: int = MAX_CUE_CHARS, max_seconds: float = MAX_CUE_SECONDS
) -> list[Cue]:
    """Words in order, grouped into cues."""
    result: list[Cue] = []
    current: list[WordTiming] = []
    for word in words:
        if current:
            text = " ".join(w.text for w in [*current, word])
            if len(text) > max_chars or word.end - current[0].start > max_seconds:
                result.append(_cue(current))
                current = []
        current.append(word)
        if word.text.endswith(_SENTENCE_END):
            result.append(_cue(current))
            current = []
    if current:
        result.append(_cue(current))
    return result


def webvtt(words: Sequence[WordTiming]) -> str:
    """A WebVTT document (text/vtt)."""
    lines = ["WEBVTT", ""]
    for cue in cues(words):
        lines += [f"{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}", cue.text, ""]
    return "\n".join(lines)


def srt(words: Sequence[WordTiming]) -> str:
    """A SubRip document (application/x-subrip)."""
    lines = []
    for number, cue in enumerate(cues(words), start=1):
        lines += [str(number), f"{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}", cue.text, ""]
    return "\n".join(lines)


def _cue(words: list[WordTiming]) -> Cue:
    return Cue(words[0].start, max(words[-1].end, words[0].start), " ".join(word.text for word in words))


def _clock(seconds: float, separator: str) -> str:
    millis = max(round(seconds * 1000), 0)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"
