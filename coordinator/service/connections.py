"""Who is connected: long-lived sessions counted in total and per client address (the
WebSockets and the Wyoming ports), when one is idle, and whether a listening address is this
machine's alone (the doors' rule against serving the network without authentication)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from typing import Any

from coordinator.clock import Clock, wait_first
from coordinator.errors import TooManySessionsError

LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to anything


# The address a connection without one is counted under (a test transport, a Unix socket).
UNKNOWN_CLIENT = "unknown"


class ClientSlots:
    """Long-lived sessions open at once, in total and per client address, so that one client
    cannot hold them all and lock everyone else out. A refusal names the setting to raise.

    Only touched on the event loop: no lock needed."""

    def __init__(self, what: str, *, total: int, per_client: int, total_setting: str, client_setting: str):
        self._what = what  # "speech WebSocket sessions": what the messages call them
        self._total, self._per_client = total, per_client
        self._total_setting, self._client_setting = total_setting, client_setting
        self._open: Counter[str] = Counter()

    @property
    def open(self) -> int:
        return self._open.total()

    def of(self, client: str) -> int:
        return self._open[client]

    @contextlib.contextmanager
    def held(self, client: str | None) -> Iterator[None]:
        """One slot for ``client`` while the block runs; TooManySessionsError when none is free."""
        client = client or UNKNOWN_CLIENT
        if self.open >= self._total:
            raise TooManySessionsError(
                f"too many {self._what}: this server allows {self._total} at once ({self._total_setting}); "
                "retry in a few seconds"
            )
        if self._open[client] >= self._per_client:
            # No colon before the fix: a WebSocket close reason is the text before the first one,
            # and an IPv6 address is full of them.
            raise TooManySessionsError(
                f"too many {self._what} from one client address: this server allows {self._per_client} "
                f"per address at once ({self._client_setting}), and {client} holds them all; close one "
                "of them, or retry in a few seconds"
            )
        self._open[client] += 1
        try:
            yield
        finally:
            self._open[client] -= 1
            if not self._open[client]:
                del self._open[client]


async def done_before_idle(
    clock: Clock, awaited: Collection[asyncio.Future[Any]], idle_timeout_s: float, busy: Callable[[], bool]
) -> bool:
    """Wait for one of ``awaited`` (a session's next message, the end of its work): True once one
    is done, False once the session was idle, ``idle_timeout_s`` of ``clock`` passed and it was not
    ``busy()`` (serving an answer, though the client sends nothing) at their end. Nothing is
    cancelled here, so a message is never cut half way."""
    while True:
        if await wait_first(clock, awaited, idle_timeout_s):
            return True
        if not busy():
            return False
