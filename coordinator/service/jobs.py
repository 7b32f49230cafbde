"""A connection's requests, served one after another: Home Assistant's Wyoming client sends one
per connection; a client piling up more is refused rather than queued without bound."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from coordinator.errors import QueueFullError

# Requests one connection may have waiting behind the one it is serving.
MAX_PENDING_JOBS = 4

JobT = TypeVar("JobT")


class JobQueue(Generic[JobT]):
    """The jobs a connection has waiting, at most ``limit``. Event loop only."""

    def __init__(self, limit: int = MAX_PENDING_JOBS) -> None:
        self._limit = limit
        self._jobs: asyncio.Queue[JobT] = asyncio.Queue()

    def put(self, job: JobT) -> None:
        """Queue ``job``, or refuse it (QueueFullError) when ``limit`` are already waiting."""
        if self._jobs.qsize() >= self._limit:
            raise QueueFullError(
                f"this connection already has {self._limit} requests waiting: wait for their "
                "answers, or open another connection"
            )
        self._jobs.put_nowait(job)

    async def get(self) -> JobT:
        return await self._jobs.get()
