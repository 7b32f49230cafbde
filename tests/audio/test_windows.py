import pytest

from coordinator.audio.format import frames_to_seconds
from coordinator.audio.windows import LEFT_CONTEXT_FRAMES, MAX_CHUNK_FRAMES, WindowPlanner


def _run(planner, total, arrivals_per_call=1):
    """Feed frames as generation would; collect every window until the utterance is flushed."""
    windows, available = [], 0
    while available < total:
        available = min(total, available + arrivals_per_call)
        while (w := planner.next_window(available, finished=False)) is not None:
            windows.append((w, available))
    while (w := planner.next_window(available, finished=True)) is not None:
        windows.append((w, available))
    return windows


@pytest.mark.parametrize("total", [1, 2, 3, 4, 5, 17, 64])
@pytest.mark.parametrize("lookahead", [0, 1, 3])
def test_every_frame_is_emitted_exactly_once_in_order(total, lookahead):
    windows = _run(WindowPlanner(lookahead=lookahead), total)
    covered = [f for w, _ in windows for f in range(w.start, w.end)]
    assert covered == list(range(total))


@pytest.mark.parametrize("total", [5, 40])
def test_windows_carry_full_context_or_reach_the_true_edges(total):
    for w, available in _run(WindowPlanner(lookahead=3), total):
        assert w.context_start == max(0, w.start - LEFT_CONTEXT_FRAMES)
        assert w.context_end == min(total, w.end + 3)
        assert w.context_end <= available  # never decodes a frame that has not arrived


def test_first_chunk_is_small_and_later_chunks_grow_to_the_cap():
    windows = _run(WindowPlanner(lookahead=3, first_chunk=1, max_chunk=8), 60)
    sizes = [w.frames for w, _ in windows]
    assert sizes[:4] == [1, 2, 4, 8]
    assert max(sizes) == 8


def test_first_audio_needs_only_first_chunk_plus_lookahead_frames():
    planner = WindowPlanner(lookahead=3)
    assert planner.next_window(3, finished=False) is None
    assert planner.next_window(4, finished=False).frames == 1


def test_when_generation_runs_ahead_one_call_takes_all_ready_frames():
    planner = WindowPlanner(lookahead=3, first_chunk=1, max_chunk=16)
    first = planner.next_window(30, finished=False)
    second = planner.next_window(30, finished=False)
    assert (first.frames, second.frames) == (16, 11)


def test_a_finished_utterance_shorter_than_the_lookahead_still_plays():
    planner = WindowPlanner(lookahead=3)
    assert planner.next_window(2, finished=False) is None
    w = planner.next_window(2, finished=True)
    assert (w.context_start, w.start, w.end, w.context_end) == (0, 0, 2, 2)


def test_invalid_planner_settings_are_refused():
    with pytest.raises(ValueError):
        WindowPlanner(first_chunk=0)
    with pytest.raises(ValueError):
        WindowPlanner(lookahead=-1)


def _timed_run(planner, total, frame_interval_s):
    """Frames arrive every ``frame_interval_s`` (lookahead 0); returns (window, audio the listener
    still had when it was released), the listener playing from the first window on."""
    released, start = [], None
    for available in range(1, total + 1):
        now = available * frame_interval_s
        while (w := planner.next_window(available, finished=False, now=now)) is not None:
            start = now if start is None else start
            played = now - start
            in_hand = frames_to_seconds(w.start) - played
            released.append((w, in_hand))
    return released


def test_generation_at_real_time_never_starves_the_listener_when_the_planner_sees_the_clock():
    frame_s = frames_to_seconds(1)
    timed = _timed_run(WindowPlanner(lookahead=0), 40, frame_s * 0.98)
    assert [f for w, _ in timed for f in range(w.start, w.end)] == list(range(40))
    assert min(in_hand for _, in_hand in timed[1:]) >= 0  # audio in hand at every release

    # The same arrivals without the clock: chunks keep doubling, and the listener runs dry.
    untimed = []
    start = None
    planner = WindowPlanner(lookahead=0)
    for available in range(1, 41):
        now = available * frame_s * 0.98
        while (w := planner.next_window(available, finished=False)) is not None:
            start = now if start is None else start
            untimed.append(frames_to_seconds(w.start) - (now - start))
    assert min(untimed[1:]) < 0


def test_with_audio_in_hand_chunks_still_grow_to_the_cap():
    # Generation far ahead of real time: after the first frames fill the buffer, chunks grow.
    sizes = [w.frames for w, _ in _timed_run(WindowPlanner(lookahead=0), 80, 0.001)]
    assert sizes[:3] == [1, 1, 1]  # the buffer is still below LOW_BUFFER_S
    assert max(sizes) == MAX_CHUNK_FRAMES
    assert sizes.count(MAX_CHUNK_FRAMES) >= 3


def test_buffered_audio_is_what_was_released_minus_what_has_played():
    planner = WindowPlanner(lookahead=0, first_chunk=2)
    assert planner.buffered_s(0.0) is None
    planner.next_window(2, finished=False, now=10.0)
    assert planner.buffered_s(10.0) == pytest.approx(frames_to_seconds(2))
    assert planner.buffered_s(10.1) == pytest.approx(frames_to_seconds(2) - 0.1)


def test_a_windows_deadline_is_when_the_audio_before_it_has_played():
    planner = WindowPlanner(lookahead=0, first_chunk=1)
    first = planner.next_window(1, finished=False)
    assert planner.deadline(first) is None  # no clock given: no deadline
    planner = WindowPlanner(lookahead=0, first_chunk=1)
    first = planner.next_window(1, finished=False, now=10.0)
    assert planner.deadline(first) == 10.0  # nothing in hand: due now
    second = planner.next_window(3, finished=False, now=10.05)
    assert planner.deadline(second) == pytest.approx(10.0 + frames_to_seconds(1))


def test_window_shapes_hold_every_window_of_a_stream_on_the_growth_schedule():
    from coordinator.audio.windows import growth_chunks, window_shapes

    assert growth_chunks(1, 16) == [1, 2, 4, 8, 16]
    shapes = window_shapes(lookahead=3, first_chunk=1, max_chunk=16, left_context=3)
    assert len(shapes) == len(set(shapes))
    assert (1 + 3, 0, 1) in shapes  # a stream's first window: no left context
    assert (3 + 16 + 3, 3, 19) in shapes  # steady state
    assert (3 + 8, 3, 11) in shapes and (4, 0, 4) in shapes  # a last window; a whole utterance
    assert all(0 <= start < end <= frames for frames, start, end in shapes)
    planner = WindowPlanner(lookahead=3)
    released = []
    for available in range(1, 200):
        while (window := planner.next_window(available, finished=False)) is not None:
            released.append(window)
    for w in released:
        assert (w.context_end - w.context_start, w.start - w.context_start, w.end - w.context_start) in shapes


FRAME_S = frames_to_seconds(1)


def _after_a_slow_first_decode(seconds_per_frame: float) -> WindowPlanner:
    """A planner whose first window (released at t=10) took ``seconds_per_frame`` per decoded frame."""
    planner = WindowPlanner(lookahead=3)
    first = planner.next_window(4, finished=False, now=10.0)
    planner.observe_decode(first, seconds_per_frame * (first.context_end - first.context_start))
    return planner


def test_with_little_audio_in_hand_a_window_is_cut_to_what_decodes_before_it_runs_out():
    planner = _after_a_slow_first_decode(seconds_per_frame=0.004)
    window = planner.next_window(40, finished=False, now=10.01)
    # All 36 ready frames would take ~0.17 s to decode, with 75 ms of audio left to play.
    assert 1 < window.frames < 36
    assert (
        0.004 * (window.context_end - window.context_start)
        <= planner.buffered_s(10.01) - window.frames * FRAME_S
    )


def test_with_next_to_no_audio_in_hand_the_smallest_window_goes_first():
    planner = _after_a_slow_first_decode(seconds_per_frame=0.01)
    assert planner.next_window(40, finished=False, now=10.04).frames == 1


def test_a_decoder_that_cannot_keep_up_gets_full_windows():
    # Cutting windows would only add context frames to decode again: efficiency first.
    planner = _after_a_slow_first_decode(seconds_per_frame=FRAME_S * 1.5)
    assert planner.next_window(40, finished=False, now=10.04).frames == MAX_CHUNK_FRAMES


def test_windows_are_never_cut_below_the_size_that_keeps_up_with_playback():
    # At 60 ms per decoded frame, a 1-frame window (7 decoded) loses ground; about 15 keep up.
    planner = _after_a_slow_first_decode(seconds_per_frame=0.06)
    window = planner.next_window(40, finished=False, now=10.04)
    decoded = window.context_end - window.context_start
    assert 1 < window.frames < MAX_CHUNK_FRAMES
    assert decoded * 0.06 <= window.frames * FRAME_S


def test_without_a_clock_or_a_measured_decode_windows_are_not_cut():
    planner = WindowPlanner(lookahead=3)
    planner.next_window(4, finished=False, now=10.0)
    assert planner.next_window(40, finished=False, now=10.04).frames == MAX_CHUNK_FRAMES
