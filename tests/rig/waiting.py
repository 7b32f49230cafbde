"""Waiting for something another thread, loop or process does, without betting on its speed.

Where the code offers no event to wait on (a slot freed by the engine's worker, a server's
readiness, a file a child process writes), a test re-checks the condition until it holds.
``HANG_GUARD_S`` only stops a test that would otherwise hang: it is generous on purpose, so a
loaded machine makes a test slower, never makes it fail. How *soon* something happens is never
asserted in seconds; a test that cares asserts how *much* happened meanwhile (tokens generated,
segments decoded), which does not depend on the machine.

These two polls are the test suite's only sleeps that wait for the code (a few tests keep a
sleep that is their subject, each with a comment saying why).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# A bound on a hang, not a timing: far above anything the checks need on a loaded 2-core machine.
HANG_GUARD_S = 120.0
# Between two checks: short enough not to slow the suite, long enough not to spin a core.
POLL_S = 0.01


def eventually(condition: Callable[[], T], what: str, *, timeout_s: float = HANG_GUARD_S) -> T:
    """``condition()``'s first truthy value; fails naming ``what`` if none came in ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(POLL_S)  # kept: re-checks a condition; the deadline only guards a hang
    return value


async def eventually_async(condition: Callable[[], T], what: str, *, timeout_s: float = HANG_GUARD_S) -> T:
    """``eventually`` inside an event loop, for state that the loop's own tasks change."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(POLL_S)  # kept: as in eventually, and lets the loop's tasks run
    return value
