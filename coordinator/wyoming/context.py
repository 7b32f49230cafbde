"""What every Wyoming connection reads from the server around it: the models (through accessors:
they may still be loading), the drain, and the connection limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from coordinator.clock import MONOTONIC, Clock
from coordinator.runtime.loading import Runtime
from coordinator.service.lifecycle import Lifecycle

DEFAULT_IDLE_TIMEOUT_S = 60.0
DEFAULT_MAX_EVENT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ServerContext:
    """The server around the connections: its models (through accessors: they may still be
    loading), its drain, and the connection limits."""

    runtime: Callable[[], Runtime | None]
    not_ready_reason: Callable[[], str | None]
    lifecycle: Lifecycle
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES  # MAX_BODY_BYTES: an event is a request body
    clock: Clock = MONOTONIC  # what the idle timeout is measured on
