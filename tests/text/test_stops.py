import pytest

from coordinator.text.stops import StopMatcher


def _run(stops, deltas):
    matcher = StopMatcher(stops)
    sent = "".join(matcher.feed(d) for d in deltas) + matcher.flush()
    return sent, matcher.stopped


@pytest.mark.parametrize(
    ("stops", "deltas", "sent", "stopped"),
    [
        (["END"], ["hello ", "wor", "ld"], "hello world", False),
        (["END"], ["hello E", "N", "D and more"], "hello ", True),
        (["END"], ["hello EN", "X"], "hello ENX", False),
        (["\n\n", "User:"], ["a\n", "\nb"], "a", True),
        (["User:"], ["Us", "er", ":"], "", True),
        ([], ["anything"], "anything", False),
    ],
)
def test_text_up_to_the_first_stop_is_sent_and_nothing_of_the_stop(stops, deltas, sent, stopped):
    assert _run(stops, deltas) == (sent, stopped)


def test_a_possible_stop_prefix_is_held_back_until_decided():
    matcher = StopMatcher(["STOP"])
    assert matcher.feed("go ST") == "go "
    assert matcher.feed("OR") == "STOR"
