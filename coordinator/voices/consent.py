"""Does a consent recording's transcript say the consent phrase (VOICE_CONSENT_PHRASE)? Pure.

The rule, stated once (docs/voices.md repeats it):

1. Both texts are normalised: Unicode compatibility forms folded and accents dropped, case
   ignored, apostrophes removed ("I'm" = "im"), every other character that is not a letter or a
   digit read as a space; then split into words.
2. The phrase's words must appear, in order, as one run of the transcript's words (anything may
   come before or after it: "Yes. I agree ... Thank you."), with at most one word in five
   (rounded down) wrong: a word the recogniser heard differently, dropped or added counts as one.
   A phrase of fewer than five words must be heard exactly.
3. A negation the phrase does not hold ("not", "don't", "never"...; English) anywhere in the
   transcript refuses it: "I do not agree ..." is two words from "I agree ..." but says the
   opposite.

Why a tolerance: Whisper on a real microphone mishears a word now and then ("there"/"their",
"okay"/"OK"), and a speaker who said the phrase should not be refused for it; one word in five
still takes a recording that says the phrase, not a different sentence. Numbers are the one thing
the rule does not reconcile ("3" and "three" differ): choose a phrase written in words.
"""

from __future__ import annotations

import re
import unicodedata

# At most one wrong word for each this many words of the phrase.
WORDS_PER_ALLOWED_ERROR = 5
_APOSTROPHES = re.compile(r"['\u2019\u02bc]")
_NOT_WORD = re.compile(r"[^0-9a-z]+")
# Words (normalised: no apostrophes) that turn consent into refusal.
NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "nor",
        "neither",
        "cannot",
        "cant",
        "dont",
        "doesnt",
        "didnt",
        "wont",
        "wouldnt",
        "shouldnt",
        "isnt",
        "arent",
        "refuse",
    ]
)


def words(text: str) -> list[str]:
    """``text``'s words after the normalisation above."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    folded = _APOSTROPHES.sub("", folded)
    return _NOT_WORD.sub(" ", folded).split()


def allowed_errors(phrase_words: int) -> int:
    return phrase_words // WORDS_PER_ALLOWED_ERROR


def phrase_distance(phrase: list[str], transcript: list[str]) -> int:
    """The fewest word edits (substitutions, insertions, deletions) that make ``phrase`` a run of
    ``transcript``'s words: edit distance with the transcript's start and end free."""
    previous = [0] * (len(transcript) + 1)  # the empty phrase matches anywhere for free
    for i, word in enumerate(phrase, start=1):
        current = [i] + [0] * len(transcript)
        for j, heard in enumerate(transcript, start=1):
            current[j] = min(
                previous[j] + 1,  # a phrase word the recogniser dropped
                current[j - 1] + 1,  # a word the recogniser added inside the phrase
                previous[j - 1] + (word != heard),
            )
        previous = current
    return min(previous)


def says_phrase(transcript: str, phrase: str) -> bool:
    """Whether ``transcript`` contains ``phrase`` under the rule of this module."""
    expected = words(phrase)
    if not expected:
        return True
    heard = words(transcript)
    if (set(heard) - set(expected)) & NEGATIONS:
        return False
    return phrase_distance(expected, heard) <= allowed_errors(len(expected))
