"""The alignment of a recogniser's words to the original text (pure: words given by hand)."""

import numpy as np

from coordinator.normalize.api import spoken_form
from coordinator.normalize.spans import Spoken
from coordinator.timing.align import HeardWord, Op, Sound, align, heard_tokens, reference_tokens, word_timings


def _heard(*words: tuple[float, float, str]) -> list[HeardWord]:
    return [HeardWord(start, end, text) for start, end, text in words]


def test_each_original_word_gets_the_time_of_the_words_heard_for_it_with_its_punctuation():
    spoken = Spoken.verbatim("Hello, world. Bye!")
    timings = word_timings(
        spoken, _heard((0.1, 0.4, " Hello,"), (0.5, 0.9, " world."), (1.2, 1.5, " Bye!")), "en", 2.0
    )
    assert [(w.text, w.start, w.end, w.heard) for w in timings] == [
        ("Hello,", 0.1, 0.4, True),
        ("world.", 0.5, 0.9, True),
        ("Bye!", 1.2, 1.5, True),
    ]
    assert [spoken.original[w.char_start : w.char_end] for w in timings] == ["Hello,", "world.", "Bye!"]


def test_a_number_read_as_words_is_one_original_word_timed_over_all_of_them():
    spoken = spoken_form("We meet at 10:30 today.", "en")  # "... at ten thirty today."
    heard = _heard(
        (0, 0.2, " We"), (0.2, 0.4, " meet"), (0.4, 0.5, " at"), (0.5, 1.0, " 10.30"), (1.0, 1.4, " today.")
    )
    timings = word_timings(spoken, heard, "en", 1.5)
    assert [w.text for w in timings] == ["We", "meet", "at", "10:30", "today."]
    assert (timings[3].start, timings[3].end) == (0.5, 1.0)


def test_the_recogniser_spelling_numbers_as_digits_matches_the_spoken_words():
    spoken = spoken_form("I have two cats and three dogs.", "en")
    heard = _heard(
        (0, 0.1, " I"),
        (0.1, 0.3, " have"),
        (0.3, 0.5, " 2"),
        (0.5, 0.8, " cats"),
        (0.8, 0.9, " and"),
        (0.9, 1.1, " 3"),
        (1.1, 1.4, " dogs."),
    )
    alignment = align(reference_tokens(spoken), heard_tokens(heard, "en"))
    assert {pair.op for pair in alignment.pairs} == {Op.SAME}


def test_a_word_not_heard_takes_the_gap_its_neighbours_leave():
    spoken = Spoken.verbatim("one two three")
    timings = word_timings(spoken, _heard((0.0, 0.3, " one"), (1.0, 1.3, " three")), "en", 2.0)
    assert [(w.text, w.start, w.end, w.heard) for w in timings][1] == ("two", 0.3, 1.0, False)


def test_a_repeat_is_aligned_as_a_repeat_not_as_a_run_of_changed_words():
    spoken = Spoken.verbatim("what is the weather like today")
    heard = heard_tokens(
        _heard(
            *(
                (i, i + 1, f" {w}")
                for i, w in enumerate(["watching", "the", "weather", "weather", "like", "today"])
            )
        ),
        "en",
    )
    ops = [pair.op for pair in align(reference_tokens(spoken), heard).pairs]
    assert ops.count(Op.ADDED) == 1 and ops.count(Op.MISSING) == 1


def test_nothing_heard_leaves_every_word_unheard_across_the_audio():
    timings = word_timings(Spoken.verbatim("a b"), [], "en", 1.0)
    assert all(not w.heard for w in timings) and timings[-1].end == 1.0


def test_words_not_heard_share_their_gap_in_order_by_length_so_captions_never_overlap():
    timings = word_timings(Spoken.verbatim("a bbb"), [], "en", 2.0)
    assert [(w.start, w.end) for w in timings] == [(0.0, 0.5), (0.5, 2.0)]


def test_sound_draws_a_word_in_to_its_own_sound_not_the_silence_or_next_word_around_it():
    rate = 16_000
    audio = np.zeros(rate * 2, np.float32)
    audio[int(0.5 * rate) : int(0.8 * rate)] = 0.5  # the word
    audio[int(1.0 * rate) : int(1.3 * rate)] = 0.5  # the next word's first sound
    timings = word_timings(
        Spoken.verbatim("word"), _heard((0.2, 1.1, " word")), "en", 2.0, Sound.of(audio, rate)
    )
    assert (timings[0].start, timings[0].end) == (0.5, 0.8)


def test_silence_leaves_the_recogniser_times_as_they_are():
    sound = Sound.of(np.zeros(16_000, np.float32), 16_000)
    assert sound.drawn_in(0.2, 0.6) == (0.2, 0.6)
