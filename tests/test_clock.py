"""The injected clock: the real one waits as asyncio and threading do; the fake one (tests/rig)
moves only when a test advances it, so timeouts are tested without waiting for them."""

import asyncio
import threading

from coordinator.clock import MONOTONIC, wait_first
from tests.rig.clock import FakeClock
from tests.rig.waiting import eventually

TIMEOUT_S = 30


def test_wait_first_returns_the_finished_future_before_its_timeout():
    async def scenario():
        clock = FakeClock()
        done = asyncio.get_running_loop().create_future()
        done.set_result("answer")
        return await wait_first(clock, {done}, timeout=60), clock.sleepers

    finished, sleepers = asyncio.run(scenario())
    assert [future.result() for future in finished] == ["answer"] and sleepers == 0


def test_wait_first_returns_nothing_once_the_clock_passes_its_timeout():
    async def scenario():
        clock = FakeClock()
        never = asyncio.get_running_loop().create_future()
        waiting = asyncio.create_task(wait_first(clock, {never}, timeout=60))
        await clock.until_sleeping(timed=True)
        clock.advance(59)
        await clock.until_sleeping(timed=True)  # not yet: 1 s of the clock left
        clock.advance(1)
        return await waiting, never.cancelled()

    assert asyncio.run(scenario()) == (set(), False)  # nothing cancelled: the caller owns it


def test_the_real_clock_times_out_a_wait_first():
    async def scenario():
        never = asyncio.get_running_loop().create_future()
        return await wait_first(MONOTONIC, {never}, timeout=0)

    assert asyncio.run(scenario()) == set()


def test_a_fake_timed_wait_ends_on_a_notify_or_once_the_clock_passes_its_timeout():
    clock, condition, results = FakeClock(), threading.Condition(), []

    def waiter() -> None:
        with condition:
            results.append(clock.wait(condition, 5.0))  # woken by the code
            results.append(clock.wait(condition, 5.0))  # woken by the clock

    thread = threading.Thread(target=waiter)
    thread.start()
    clock.wait_for_sleepers(timed=True)
    with condition:
        condition.notify()
    eventually(lambda: results == [True], "the notified wait returned")
    clock.wait_for_sleepers(timed=True)  # the second wait
    clock.advance(4.0)
    assert results == [True]
    clock.advance(1.0)
    thread.join(TIMEOUT_S)
    assert results == [True, False]
