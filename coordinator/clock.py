"""The time that timing logic reads and waits on, injected so that tests need not wait for it.

Deadlines, batching waits, idle timeouts and drains take a ``Clock`` (the real one by default).
A test passes a fake one and advances it: the code under test then sees exactly the time the test
says, however loaded the machine is, and a test of "idle for 60 s" takes no 60 s.

Pure: no torch, no web framework.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol


class Clock(Protocol):
    """Monotonic seconds, and the two ways code here waits for them to pass."""

    def now(self) -> float:
        """Seconds on a monotonic clock (only differences mean anything)."""
        ...

    def wait(self, condition: threading.Condition, timeout: float | None) -> bool:
        """With ``condition`` held, as ``Condition.wait``: False once ``timeout`` seconds of this
        clock have passed, True when notified (or woken spuriously: callers re-check)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` of this clock have passed."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic``, ``Condition.wait`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    def wait(self, condition: threading.Condition, timeout: float | None) -> bool:
        return condition.wait(timeout)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


MONOTONIC: Clock = MonotonicClock()


async def wait_first(
    clock: Clock, futures: Iterable[asyncio.Future[Any]], timeout: float | None
) -> set[asyncio.Future[Any]]:
    """``asyncio.wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)`` on ``clock``'s
    time: the futures done when the first finished, or an empty set once ``timeout`` passed.
    Nothing is cancelled (as with asyncio.wait)."""
    pending: set[asyncio.Future[Any]] = set(futures)
    if timeout is None:
        done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        return done
    timer: asyncio.Future[Any] = asyncio.ensure_future(clock.sleep(timeout))
    try:
        done, _ = await asyncio.wait({*pending, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    await asyncio.wait({timer})  # its sleep ended before this returns (a fake clock counts sleeps)
    return done - {timer}
