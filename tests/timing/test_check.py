"""The check of an utterance's text against what was heard (pure: words given by hand)."""

from coordinator.normalize.spans import Spoken
from coordinator.timing.align import HeardWord
from coordinator.timing.heard import hear


def _check(text: str, heard: str, **kwargs):
    words = [HeardWord(i, i + 1, f" {word}") for i, word in enumerate(heard.split())]
    return hear(Spoken.verbatim(text), words, language="en", duration=len(words) + 1.0, **kwargs).check


def test_the_same_words_pass_with_no_error():
    check = _check("Turn on the lights, please.", "Turn on the lights please")
    assert (check.word_error, check.passed, check.gaps) == (0.0, True, 0)


def test_a_skipped_word_fails_and_is_named_whatever_the_rate():
    check = _check("turn on the kitchen lights please", "turn on the lights please")
    assert check.missing == ("kitchen",) and not check.passed and check.word_error < 0.35


def test_a_repeated_word_is_named_as_repeated():
    check = _check("say it once", "say it it once")
    assert check.repeated == ("it",) and check.added == () and not check.passed


def test_an_invented_word_is_named_as_added():
    check = _check("call my sister", "call my older sister")
    assert check.added == ("older",) and not check.passed


def test_misheard_words_in_their_place_pass_under_the_threshold_and_fail_over_it():
    lenient = _check("we bought three apples and two oranges", "we want free apples and two oranges")
    assert lenient.changed == (("bought", "want"), ("three", "free")) and lenient.passed
    strict = _check(
        "we bought three apples and two oranges", "we want free apples and two oranges", max_word_error=0.2
    )
    assert not strict.passed


def test_silence_for_a_text_is_all_missing():
    check = _check("hello there", "")
    assert (check.word_error, check.missing, check.passed) == (1.0, ("hello", "there"), False)


def test_a_better_take_has_fewer_gaps_first_then_less_error():
    skipped = _check("a quick test of it", "a quick of it")
    misheard = _check("a quick test of it", "a quick vest of it")
    assert misheard.better_than(skipped) and not skipped.better_than(misheard)
