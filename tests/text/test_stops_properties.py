"""Stop strings over any chunking: what is sent, and whether it stopped, never depends on how the
stream was cut into deltas."""

from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.text.stops import StopMatcher

PROPERTY = settings(derandomize=True, max_examples=500, deadline=None)

# A small alphabet, so that stops overlap, nest and share prefixes with the text often.
small_text = st.text(alphabet="abc\n", max_size=30)
stop_lists = st.lists(st.text(alphabet="abc\n", max_size=4), max_size=4)


def _run(stops, deltas):
    matcher = StopMatcher(stops)
    sent = "".join(matcher.feed(delta) for delta in deltas) + matcher.flush()
    return sent, matcher.stopped


def _chunks(text, cuts):
    cuts = sorted(cut % (len(text) + 1) for cut in cuts)
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]


@PROPERTY
@given(stops=stop_lists, text=small_text, cuts=st.lists(st.integers(0, 100), max_size=10))
def test_any_chunking_sends_what_one_chunk_sends(stops, text, cuts):
    assert _run(stops, _chunks(text, cuts)) == _run(stops, [text])


@PROPERTY
@given(stops=stop_lists, text=small_text, cuts=st.lists(st.integers(0, 100), max_size=10))
def test_the_text_is_cut_where_the_first_stop_ends_and_nothing_of_it_is_sent(stops, text, cuts):
    sent, stopped = _run(stops, _chunks(text, cuts))
    assert text.startswith(sent)
    stops = [s for s in stops if s]
    # The first point where some stop has been completed.
    ends = [end for end in range(len(text) + 1) if any(text[:end].endswith(s) for s in stops)]
    if not ends:
        assert (sent, stopped) == (text, False)
    else:
        longest = max(len(s) for s in stops if text[: ends[0]].endswith(s))
        assert (sent, stopped) == (text[: ends[0] - longest], True)


@PROPERTY
@given(stops=stop_lists, deltas=st.lists(small_text, max_size=8))
def test_no_delta_ever_holds_part_of_a_stop_that_is_then_completed(stops, deltas):
    matcher = StopMatcher(stops)
    sent = ""
    for delta in deltas:
        sent += matcher.feed(delta)
        if matcher.stopped:
            break
        # Everything sent so far is final: no stop may start inside it.
        assert not any(s and s in sent for s in stops)
