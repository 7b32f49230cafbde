"""The shared SNAC decode thread: batching like windows, exact results, failures kept to their own."""

import threading

import numpy as np
import pytest
import torch

from coordinator.audio.decode_scheduler import DecodeJob, DecodeScheduler, plan_batches
from coordinator.errors import AudioDecodeError, DeviceOutOfMemoryError
from tests.rig.clock import FakeClock

TIMEOUT_S = 60


def job(frames: int, keep_start: int, keep_end: int, deadline: float = 0.0) -> DecodeJob:
    return DecodeJob(np.zeros((frames, 7), dtype=np.int64), keep_start, keep_end, deadline=deadline)


def test_windows_of_one_shape_share_a_call_oldest_shape_first():
    a1, b1, a2, c1, a3 = job(22, 3, 19), job(4, 0, 1), job(22, 3, 19), job(6, 1, 3), job(22, 3, 19)
    batches = plan_batches([a1, b1, a2, c1, a3], batch_frames=512)
    assert batches == [[a1, a2, a3], [b1], [c1]]


def test_the_most_urgent_window_goes_first_and_leads_its_call():
    # Two streams with seconds of audio in hand, one new stream whose listener hears nothing yet.
    steady_a, steady_b = job(22, 3, 19, deadline=12.0), job(22, 3, 19, deadline=11.0)
    first = job(4, 0, 1, deadline=10.0)
    batches = plan_batches([steady_a, steady_b, first], batch_frames=512)
    assert batches == [[first], [steady_b, steady_a]]


def test_a_call_holds_at_most_the_frame_budget_but_always_one_window():
    small = [job(4, 0, 1) for _ in range(5)]
    assert [len(b) for b in plan_batches(small, batch_frames=2)] == [2, 2, 1]
    large = [job(22, 3, 19) for _ in range(3)]
    assert [len(b) for b in plan_batches(large, batch_frames=8)] == [1, 1, 1]


class GatedCodec:
    """The real codec, whose first call waits for a gate: windows submitted meanwhile pile up,
    so the next tick's batching is deterministic. Optionally fails batched calls (like a GPU out
    of memory for a batch that would fit singly)."""

    def __init__(self, codec, *, fail_batches: bool = False):
        self.codec = codec
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.fail_batches = fail_batches
        self.batch_sizes: list[int] = []

    def decode_batch(self, frames, keep_start, keep_end):
        self.entered.set()
        self.gate.wait(TIMEOUT_S)
        self.batch_sizes.append(len(frames))
        if self.fail_batches and len(frames) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        if frames[0, 0, 0] < 0:
            raise ValueError("injected bad window")
        return self.codec.decode_batch(frames, keep_start, keep_end)


def windows(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 4096, size=(6, 7)) for _ in range(n)]


def test_windows_waiting_together_are_decoded_in_one_call_with_exact_samples(codec):
    gated = GatedCodec(codec)
    with DecodeScheduler(gated, batch_frames=8) as scheduler:
        first = scheduler.submit(windows(1, seed=9)[0], 1, 3)
        assert gated.entered.wait(TIMEOUT_S)  # the worker is busy with the first window
        inputs = windows(4)
        futures = [scheduler.submit(frames, 1, 3) for frames in inputs]
        gated.gate.set()
        results = [future.result(TIMEOUT_S) for future in futures]
        first.result(TIMEOUT_S)
    assert gated.batch_sizes == [1, 4]
    for frames, samples in zip(inputs, results):
        assert np.abs(samples - codec.decode_window(frames, 1, 3)).max() < 1e-5
    assert scheduler.stats.largest_batch == 4 and scheduler.stats.windows == 5


def test_a_new_streams_first_window_is_decoded_before_windows_with_audio_in_hand(codec):
    gated = GatedCodec(codec)
    with DecodeScheduler(gated, batch_frames=8) as scheduler:
        scheduler.submit(windows(1)[0], 1, 3)
        assert gated.entered.wait(TIMEOUT_S)
        now = scheduler.clock.now()
        rng = np.random.default_rng(3)
        later = [
            scheduler.submit(rng.integers(0, 4096, size=(10, 7)), 3, 7, deadline=now + 5) for _ in range(2)
        ]
        urgent = scheduler.submit(rng.integers(0, 4096, size=(4, 7)), 0, 1, deadline=now)
        gated.gate.set()
        for future in [*later, urgent]:
            future.result(TIMEOUT_S)
    assert gated.batch_sizes == [1, 1, 2]  # the urgent window alone, then the two others together


def test_a_failed_batch_is_retried_window_by_window_and_a_bad_window_fails_alone(codec):
    gated = GatedCodec(codec, fail_batches=True)
    with DecodeScheduler(gated, batch_frames=8) as scheduler:
        scheduler.submit(windows(1)[0], 1, 3)
        assert gated.entered.wait(TIMEOUT_S)
        good = windows(2)
        bad = np.full((6, 7), -1)
        futures = [
            scheduler.submit(good[0], 1, 3),
            scheduler.submit(bad, 1, 3),
            scheduler.submit(good[1], 1, 3),
        ]
        gated.gate.set()
        assert np.abs(futures[0].result(TIMEOUT_S) - codec.decode_window(good[0], 1, 3)).max() < 1e-5
        with pytest.raises(AudioDecodeError) as failure:
            futures[1].result(TIMEOUT_S)
        assert isinstance(failure.value.__cause__, ValueError)
        assert np.abs(futures[2].result(TIMEOUT_S) - codec.decode_window(good[1], 1, 3)).max() < 1e-5
    assert gated.batch_sizes == [1, 3, 1, 1, 1]


class OutOfMemoryCodec:
    """A codec whose device is full: every call raises what torch raises then."""

    def __init__(self, error: type[BaseException]):
        self.error = error

    def decode_batch(self, frames, keep_start, keep_end):
        raise self.error("out of memory (injected)")


@pytest.mark.parametrize("error", [torch.OutOfMemoryError, torch.cuda.OutOfMemoryError, MemoryError])
def test_a_codec_out_of_memory_reaches_the_waiting_stream_as_a_device_out_of_memory_error(error):
    with (
        DecodeScheduler(OutOfMemoryCodec(error), batch_frames=8) as scheduler,
        pytest.raises(DeviceOutOfMemoryError) as failure,
    ):
        scheduler.submit(windows(1)[0], 1, 3).result(TIMEOUT_S)
    assert failure.value.code == "out_of_memory" and isinstance(failure.value.__cause__, error)
    assert scheduler.stats.failures == 1


def test_a_window_cancelled_before_its_tick_is_not_decoded(codec):
    gated = GatedCodec(codec)
    with DecodeScheduler(gated, batch_frames=8) as scheduler:
        scheduler.submit(windows(1)[0], 1, 3)
        assert gated.entered.wait(TIMEOUT_S)
        dropped, kept = (scheduler.submit(frames, 1, 3) for frames in windows(2))
        assert dropped.cancel()
        gated.gate.set()
        kept.result(TIMEOUT_S)
    assert gated.batch_sizes == [1, 1]


def test_closing_cancels_what_is_still_pending(codec):
    gated = GatedCodec(codec)
    scheduler = DecodeScheduler(gated, batch_frames=8)
    scheduler.submit(windows(1)[0], 1, 3)
    assert gated.entered.wait(TIMEOUT_S)
    pending = scheduler.submit(windows(1)[0], 1, 3)
    closer = threading.Thread(target=scheduler.close)
    with scheduler._wake:  # close() sets _stopping and notifies under this lock
        closer.start()
        assert scheduler._wake.wait_for(lambda: scheduler._stopping, TIMEOUT_S), "close() never began"
    gated.gate.set()
    closer.join(TIMEOUT_S)
    assert pending.cancelled()
    with pytest.raises(RuntimeError, match="shut down"):
        scheduler.submit(windows(1)[0], 1, 3)


def test_the_idle_hook_runs_once_after_a_quiet_spell_not_between_windows(codec):
    clock, ran, calls = FakeClock(), threading.Event(), []

    def hook() -> None:
        calls.append(1)
        ran.set()

    with DecodeScheduler(codec, batch_frames=8, on_idle=hook, idle_after_s=0.2, clock=clock) as scheduler:
        clock.wait_for_sleepers()  # the decoder waits for work, with no timeout
        clock.advance(10)
        assert calls == []  # nothing decoded yet: nothing to give back
        for window in windows(3):
            scheduler.submit(window, 1, 3).result(TIMEOUT_S)
            clock.advance(0.1)  # between windows, each shorter than the quiet spell
        clock.wait_for_sleepers(timed=True)  # the quiet spell has begun
        assert calls == []
        clock.advance(0.2)
        assert ran.wait(TIMEOUT_S), "the idle hook never ran"
        ran.clear()
        clock.wait_for_sleepers()  # back to waiting for work, no timeout: the hook is not due
        clock.advance(10)
        assert calls == [1] and scheduler.idle_runs == 1  # once per quiet spell, not every timeout
        scheduler.submit(windows(1)[0], 1, 3).result(TIMEOUT_S)
        clock.wait_for_sleepers(timed=True)
        clock.advance(0.2)
        assert ran.wait(TIMEOUT_S), "the idle hook did not run after the next decode"
    assert calls == [1, 1]


def test_a_failing_idle_hook_does_not_stop_the_decoder(codec):
    clock, ran = FakeClock(), threading.Event()

    def broken() -> None:
        ran.set()
        raise RuntimeError("injected")

    with DecodeScheduler(codec, batch_frames=8, on_idle=broken, idle_after_s=0.05, clock=clock) as scheduler:
        scheduler.submit(windows(1)[0], 1, 3).result(TIMEOUT_S)
        clock.wait_for_sleepers(timed=True)
        clock.advance(0.05)
        assert ran.wait(TIMEOUT_S)
        clock.wait_for_sleepers()  # the decoder lived on to wait for the next window
        assert scheduler.submit(windows(1)[0], 1, 3).result(TIMEOUT_S).size > 0
