"""A clock that moves only when the test says so (coordinator.clock.Clock).

The code under test waits on it from any thread or event loop; the test first waits until the
code is waiting (``wait_for_sleepers``: a real-time bound, only so a broken test fails instead of
hanging), then ``advance``s it. Nothing depends on how fast the machine runs.
"""

from __future__ import annotations

import asyncio
import math
import threading
from dataclasses import dataclass

# How long a test waits (in real seconds) for the code to reach a wait before it fails: a bound
# on a hang, never a timing the test relies on.
SLEEPER_TIMEOUT_S = 30.0


@dataclass(eq=False)
class _Sleeper:
    deadline: float
    condition: threading.Condition | None = None  # a thread's wait
    loop: asyncio.AbstractEventLoop | None = None  # an async sleep
    future: asyncio.Future[None] | None = None
    woken_by_clock: bool = False
    fired: bool = False  # its deadline passed (advance)


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Condition()
        self._sleepers: list[_Sleeper] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time on and wake every wait whose timeout has now passed."""
        with self._lock:
            self._now += seconds
            due = [s for s in self._sleepers if s.deadline <= self._now and not s.fired]
            for sleeper in due:
                sleeper.fired = True
            self._lock.notify_all()
        for sleeper in due:
            if sleeper.condition is not None:
                # Taken only once the waiter sits in Condition.wait (it holds it until then).
                with sleeper.condition:
                    sleeper.woken_by_clock = True
                    sleeper.condition.notify_all()
            elif sleeper.loop is not None and sleeper.future is not None:
                sleeper.loop.call_soon_threadsafe(_resolve, sleeper.future)

    # -- what the code under test calls ---------------------------------------------------------
    def wait(self, condition: threading.Condition, timeout: float | None) -> bool:
        if timeout is not None and timeout <= 0:
            return False
        deadline = math.inf if timeout is None else self.now() + timeout
        sleeper = _Sleeper(deadline, condition=condition)
        self._add(sleeper)
        try:
            while True:
                condition.wait()
                if not sleeper.woken_by_clock:
                    return True  # notified by the code
                sleeper.woken_by_clock = False
                if sleeper.fired:
                    return False
        finally:
            self._remove(sleeper)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        loop = asyncio.get_running_loop()
        sleeper = _Sleeper(self.now() + seconds, loop=loop, future=loop.create_future())
        self._add(sleeper)
        try:
            assert sleeper.future is not None
            await sleeper.future
        finally:
            self._remove(sleeper)

    # -- what the test calls --------------------------------------------------------------------
    @property
    def sleepers(self) -> int:
        """Waits in progress that time has not ended yet."""
        with self._lock:
            return self._pending()

    def wait_for_sleepers(self, count: int = 1, *, timed: bool = False) -> None:
        """Block until ``count`` waits are in progress (``timed``: waits with a timeout only)."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._pending(timed) >= count, SLEEPER_TIMEOUT_S):
                raise AssertionError(
                    f"the code never waited on the clock ({self._pending(timed)} of {count})"
                )

    async def until_sleeping(self, count: int = 1, *, timed: bool = False) -> None:
        """``wait_for_sleepers`` from a coroutine, without blocking its loop."""
        await asyncio.to_thread(self.wait_for_sleepers, count, timed=timed)

    def _pending(self, timed: bool = False) -> int:
        return sum(1 for s in self._sleepers if not s.fired and (not timed or s.deadline != math.inf))

    def _add(self, sleeper: _Sleeper) -> None:
        with self._lock:
            self._sleepers.append(sleeper)
            self._lock.notify_all()

    def _remove(self, sleeper: _Sleeper) -> None:
        with self._lock:
            self._sleepers.remove(sleeper)
            self._lock.notify_all()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
