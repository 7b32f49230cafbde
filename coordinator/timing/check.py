"""An utterance checked by ear: the recogniser's transcript of the generated audio against the
utterance's text. Word error rate over the spoken words, and which words were missing, repeated
(heard again right after themselves, Orpheus' loop) or added (heard, never written).

The check passes when the word error is at most the threshold AND no word is missing, repeated or
added. The two kinds of error differ: a small recogniser mishears clean speech as another word in
its place (tiny.en hears espeak-ng's "bought three" as "want free"), which the threshold forgives;
what Orpheus does wrong is skip, repeat or invent words, which a recogniser on clean speech rarely
does (none in the matching recordings measured in docs/timings.md), so one of them fails the
check whatever the rate."""

from __future__ import annotations

from dataclasses import dataclass

from coordinator.timing.align import Alignment, Op

# A word error rate the small recognisers reach on clean speech (tiny.en on espeak-ng, measured in
# docs/timings.md), with room: above it, the audio most likely does not say its text.
DEFAULT_MAX_WORD_ERROR = 0.35


@dataclass(frozen=True)
class Check:
    """``word_error``: (changed + missing + added) / words of the text. The word lists hold the
    spoken words (lower case, as the text reads them)."""

    word_error: float
    words: int
    missing: tuple[str, ...]
    repeated: tuple[str, ...]
    added: tuple[str, ...]
    changed: tuple[tuple[str, str], ...]  # (written, heard)
    heard: str
    passed: bool

    @property
    def gaps(self) -> int:
        """Words missing, repeated or added: what a take is judged by first."""
        return len(self.missing) + len(self.repeated) + len(self.added)

    def better_than(self, other: Check) -> bool:
        """Fewer words missing, repeated or added, then a lower word error."""
        return (self.gaps, self.word_error) < (other.gaps, other.word_error)

    def as_dict(self) -> dict[str, object]:
        return {
            "word_error": self.word_error,
            "words": self.words,
            "missing": list(self.missing),
            "repeated": list(self.repeated),
            "added": list(self.added),
            "changed": [list(pair) for pair in self.changed],
            "heard": self.heard,
            "passed": self.passed,
        }


def check(alignment: Alignment, heard: str, *, max_word_error: float = DEFAULT_MAX_WORD_ERROR) -> Check:
    """The check of an alignment (``heard``: the recogniser's text, for the report)."""
    missing: list[str] = []
    repeated: list[str] = []
    added: list[str] = []
    changed: list[tuple[str, str]] = []
    for pair in alignment.pairs:
        if pair.op is Op.MISSING and pair.ref is not None:
            missing.append(alignment.reference[pair.ref].word)
        elif pair.op is Op.CHANGED and pair.ref is not None and pair.heard is not None:
            changed.append((alignment.reference[pair.ref].word, alignment.heard[pair.heard].word))
        elif pair.op is Op.ADDED and pair.heard is not None:
            word = alignment.heard[pair.heard].word
            # Said again beside itself (Orpheus' loop): the copy the alignment left unpaired may be
            # either one.
            around = alignment.heard[max(pair.heard - 1, 0) : pair.heard + 2]
            again = sum(token.word == word for token in around) > 1
            (repeated if again else added).append(word)
    words = len(alignment.reference)
    errors = len(missing) + len(repeated) + len(added) + len(changed)
    # No words to say and none heard is right; any heard word over no text is all error.
    word_error = errors / words if words else float(errors > 0)
    return Check(
        word_error=round(word_error, 4),
        words=words,
        missing=tuple(missing),
        repeated=tuple(repeated),
        added=tuple(added),
        changed=tuple(changed),
        heard=heard,
        passed=word_error <= max_word_error and not (missing or repeated or added),
    )
