"""The live voice session without a transport: a recording sink, a scripted client, and an idle
clock the test controls, so that the idle timeout is tested without waiting for it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from coordinator.errors import (
    ClientDisconnectedError,
    CoordinatorError,
    InvalidInputError,
    ShuttingDownError,
    UnknownModelError,
)
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.service.voice_session import VOICE_IDLE_TIMEOUT_S, VoiceSession, VoiceSettings
from tests.server.conftest import runtime  # noqa: F401  (the server tests' runtime)

NEVER = asyncio.Event  # an Event nobody sets: a wait on it lasts until it is cancelled


class RecordingSink:
    def __init__(self, *, gone: bool = False) -> None:
        self.events: list[dict[str, Any]] = []
        self.errors: list[CoordinatorError] = []
        self._gone = gone

    async def event(self, event: dict[str, Any]) -> None:
        if self._gone:
            raise ClientDisconnectedError("gone")
        self.events.append(event)

    async def audio(self, pcm: bytes) -> None:
        self.events.append({"type": "<audio>"})

    async def error(self, error: CoordinatorError) -> None:
        self.errors.append(error)


class IdleClock:
    """Stands in for the clock's sleep: records each idle wait, and ends them only when told to."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.expired = asyncio.Event()

    def now(self) -> float:
        return 0.0

    def wait(self, condition, timeout):  # a clock's thread-side wait: no session uses it
        raise AssertionError("not used by the session")

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        await self.expired.wait()


def _session(runtime, sink, clock: IdleClock, lifecycle: Lifecycle, **settings) -> VoiceSession:  # noqa: F811
    return VoiceSession(
        runtime,
        VoiceSettings(language="en", **settings),
        sink,
        limits=RequestLimits.from_settings(runtime.settings),
        metrics=Metrics(lambda: runtime),
        lifecycle=lifecycle,
        clock=clock,
    )


def _scripted(*messages: bytes | str | None):
    """A client that sends ``messages``, then nothing more."""
    queue = list(messages)

    async def receive() -> bytes | str | None:
        if queue:
            return queue.pop(0)
        await NEVER().wait()
        raise AssertionError("unreachable")

    return receive


def test_a_session_silent_for_the_idle_timeout_is_closed_naming_it(runtime):  # noqa: F811
    async def scenario():
        clock, sink = IdleClock(), RecordingSink()
        session = _session(runtime, sink, clock, Lifecycle())
        clock.expired.set()  # the idle time is over the moment it starts
        try:
            with pytest.raises(InvalidInputError, match=f"nothing arrived for {VOICE_IDLE_TIMEOUT_S:g} s"):
                await session.run(_scripted())
        finally:
            await session.close()
        return clock, sink

    clock, sink = asyncio.run(scenario())
    assert clock.waits == [VOICE_IDLE_TIMEOUT_S]
    assert [e["type"] for e in sink.events] == ["session.created"]


def test_each_message_restarts_the_idle_wait_and_a_bad_one_is_reported_without_ending_it(runtime):  # noqa: F811
    async def scenario():
        clock, sink = IdleClock(), RecordingSink()
        session = _session(runtime, sink, clock, Lifecycle())
        try:
            await session.run(
                _scripted(b"\x00", "[" * 200_000, json.dumps({"type": "dance"}), b"\x00\x00", None)
            )
        finally:
            await session.close()
        return clock, sink

    clock, sink = asyncio.run(scenario())
    # Five messages, the last the client's leaving: five waits, none of which ran out.
    assert clock.waits == [VOICE_IDLE_TIMEOUT_S] * 5
    odd, deep, unknown = sink.errors
    assert "odd number of bytes" in odd.message
    assert "nested too deeply" in deep.message and deep.param == "type"
    assert unknown.message.startswith("unknown message") and unknown.param == "type"


def test_a_draining_server_ends_the_session_with_shutting_down(runtime):  # noqa: F811
    async def scenario():
        lifecycle = Lifecycle()
        session = _session(runtime, RecordingSink(), IdleClock(), lifecycle)
        lifecycle.start_draining()
        try:
            with pytest.raises(ShuttingDownError):
                await session.run(_scripted())
        finally:
            await session.close()

    asyncio.run(scenario())


def test_a_client_gone_before_the_first_event_ends_the_session_as_gone(runtime):  # noqa: F811
    async def scenario():
        session = _session(runtime, RecordingSink(gone=True), IdleClock(), Lifecycle())
        with pytest.raises(ClientDisconnectedError):
            await session.run(_scripted())
        await session.close()

    asyncio.run(scenario())


def test_voice_and_model_are_resolved_across_the_loaded_models_before_anything_is_heard(runtime):  # noqa: F811
    sink, clock = RecordingSink(), IdleClock()
    with pytest.raises(InvalidInputError) as unknown_voice:
        _session(runtime, sink, clock, Lifecycle(), voice="nobody")
    with pytest.raises(UnknownModelError):
        _session(runtime, sink, clock, Lifecycle(), voice="tara", model="no-such-model")
    assert unknown_voice.value.param == "voice"
