"""Properties of the window planner over any arrival pattern, clock and configuration: every frame
is decoded exactly once, in order, with its exact context, and none is lost at either end."""

from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.audio.windows import WindowPlanner

PROPERTY = settings(derandomize=True, max_examples=300, deadline=None)

configs = st.fixed_dictionaries(
    {
        "lookahead": st.integers(0, 6),
        "left_context": st.integers(0, 6),
        "first_chunk": st.integers(1, 8),
        "max_chunk": st.integers(8, 32),
    }
)
# Frames arriving per step, each with the time elapsed since the previous step (None: no clock).
arrivals = st.lists(st.tuples(st.integers(0, 20), st.one_of(st.none(), st.floats(0.0, 2.0))), max_size=40)


def _plan(config, steps, use_clock):
    planner = WindowPlanner(**config)
    windows, available, now = [], 0, 0.0
    for frames, dt in steps:
        available += frames
        now += dt or 0.0
        # Asking several times per arrival must not hand out anything twice.
        for _ in range(3):
            window = planner.next_window(available, False, now if use_clock else None)
            if window is None:
                break
            windows.append((window, available, False))
    while (window := planner.next_window(available, True, now if use_clock else None)) is not None:
        windows.append((window, available, True))
    return planner, windows, available


@PROPERTY
@given(config=configs, steps=arrivals, use_clock=st.booleans())
def test_every_frame_is_decoded_once_in_order_and_none_lost_at_the_ends(config, steps, use_clock):
    planner, windows, total = _plan(config, steps, use_clock)
    emitted = [frame for window, _, _ in windows for frame in range(window.start, window.end)]
    assert emitted == list(range(total))
    assert planner.emitted == total
    assert planner.next_window(total, True) is None


@PROPERTY
@given(config=configs, steps=arrivals, use_clock=st.booleans())
def test_each_window_has_its_exact_context_or_the_true_edge(config, steps, use_clock):
    _, windows, _ = _plan(config, steps, use_clock)
    for window, available, finished in windows:
        assert 1 <= window.frames <= config["max_chunk"]
        assert window.context_start == max(0, window.start - config["left_context"])
        assert window.context_end == min(available, window.end + config["lookahead"])
        if not finished:
            # Before the end, a frame is only decoded once its full lookahead exists.
            assert window.end + config["lookahead"] <= available
