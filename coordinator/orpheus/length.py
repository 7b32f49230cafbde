"""How many audio tokens a text can plausibly need: the bound that stops Orpheus rambling.

Orpheus sometimes does not end an utterance: it loops, or invents trailing audio, until the token
limit. A limit set by the text's length stops that a few seconds after any plausible reading,
while never cutting a real one short: the bound assumes speech well under half the ordinary pace,
with time for the model's lead-in and trailing silence, for each emotion tag and for digits and
symbols, which are spoken longer than they are written. Pure: no torch, no llama.
"""

from __future__ import annotations

import math
import re
import unicodedata

from coordinator.audio.format import SAMPLE_RATE, SAMPLES_PER_FRAME
from coordinator.orpheus.layout import FRAME_TOKENS

AUDIO_TOKENS_PER_SECOND = FRAME_TOKENS * SAMPLE_RATE / SAMPLES_PER_FRAME  # 82.03

# Ordinary English speech runs at about 15 characters a second (150 words a minute); the bound
# allows 2.5 times as long, so that slow, dramatic or pause-laden readings still fit.
ORDINARY_CHARS_PER_SECOND = 15.0
PACE_MARGIN = 2.5
SECONDS_PER_CHAR = PACE_MARGIN / ORDINARY_CHARS_PER_SECOND  # 0.167 s
# Silence before the first word and after the last, and room for a short word's whole length.
BASE_SECONDS = 2.0
# <laugh>, <sigh>, <yawn>...: a second or two each, allowed generously.
SECONDS_PER_TAG = 2.5
# A digit or a symbol is read as a word or more ("1984": nineteen eighty-four, "%": percent).
DIGIT_WEIGHT = 5
SYMBOL_WEIGHT = 7
SPOKEN_SYMBOLS = frozenset("%$€£&@#+=/*^~§°")
# A Chinese, Japanese or Korean character is a syllable (4 to 5 a second in ordinary speech).
WIDE_CHAR_WEIGHT = 4

# Orpheus' emotion tags (any <word> counts: a fine-tune may add its own).
TAG = re.compile(r"<[A-Za-z_]+>")


def spoken_weight(text: str) -> int:
    """The text's length in "ordinary characters": letters and spaces count 1, digits, symbols
    and CJK characters more; tags are not counted here (see ``audio_token_need``)."""
    weight = 0
    for char in TAG.sub(" ", text):
        if char.isdigit():
            weight += DIGIT_WEIGHT
        elif char in SPOKEN_SYMBOLS:
            weight += SYMBOL_WEIGHT
        elif unicodedata.east_asian_width(char) in ("W", "F"):
            weight += WIDE_CHAR_WEIGHT
        else:
            weight += 1
    return weight


def audio_token_need(text: str) -> int:
    """The most audio tokens ``text`` can plausibly need, in whole frames."""
    seconds = BASE_SECONDS + spoken_weight(text) * SECONDS_PER_CHAR + len(TAG.findall(text)) * SECONDS_PER_TAG
    frames = math.ceil(seconds * AUDIO_TOKENS_PER_SECOND / FRAME_TOKENS)
    return frames * FRAME_TOKENS
