"""The audio token bound a text sets: generous for any plausible reading, far below a ramble."""

import pytest

from coordinator.orpheus.layout import FRAME_TOKENS
from coordinator.orpheus.length import AUDIO_TOKENS_PER_SECOND, audio_token_need, spoken_weight

ORDINARY_CHARS_PER_SECOND = 15


@pytest.mark.parametrize(
    "text",
    [
        "Hi.",
        "Hello there.",
        "Well... I suppose, if you insist, we could try it once more tomorrow.",
        "x" * 250,
    ],
)
def test_the_bound_allows_more_than_twice_an_ordinary_reading_plus_silence(text):
    ordinary_s = len(text) / ORDINARY_CHARS_PER_SECOND
    need = audio_token_need(text)
    assert need % FRAME_TOKENS == 0
    assert need >= (2 * ordinary_s + 1.5) * AUDIO_TOKENS_PER_SECOND


def test_a_short_sentence_is_bounded_to_a_few_seconds_not_the_24_s_default():
    assert audio_token_need("Hello there.") / AUDIO_TOKENS_PER_SECOND < 4.5


def test_tags_digits_symbols_and_wide_characters_add_time():
    plain = audio_token_need("Okay then.")
    assert audio_token_need("Okay <laugh> then.") >= plain + 2 * AUDIO_TOKENS_PER_SECOND
    assert spoken_weight("1984") == 20 and spoken_weight("50%") == 17
    assert spoken_weight("你好") == 8  # a syllable each
    assert spoken_weight("<sigh>") == 1  # the tag is time, not letters
