"""The rules a connection-based door follows, without any door: a job is admitted only once the
models are loaded and not while draining, and counted in flight while it runs; a connection's
waiting jobs are bounded; a session is idle only when it neither receives nor serves."""

import asyncio

import pytest

from coordinator.errors import NotReadyError, QueueFullError, ShuttingDownError
from coordinator.service.connections import done_before_idle
from coordinator.service.jobs import MAX_PENDING_JOBS, JobQueue
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.readiness import LOADING_MESSAGE, ready_runtime
from coordinator.service.sentences import TextFeed
from tests.rig.clock import FakeClock

IDLE_S = 60.0


def test_no_runtime_is_not_ready_with_the_reason_or_the_loading_message():
    with pytest.raises(NotReadyError, match="downloading"):
        ready_runtime(None, "downloading the models")
    with pytest.raises(NotReadyError) as refused:
        ready_runtime(None, None)
    assert refused.value.message == LOADING_MESSAGE
    runtime = object()
    assert ready_runtime(runtime, "ignored") is runtime  # type: ignore[arg-type]


def test_work_is_counted_in_flight_and_refused_once_draining():
    lifecycle = Lifecycle()
    with lifecycle.serving():
        assert lifecycle.in_flight == 1
        lifecycle.start_draining()  # what is in flight runs on
    assert lifecycle.in_flight == 0
    with pytest.raises(ShuttingDownError), lifecycle.serving():
        pass
    assert lifecycle.in_flight == 0


def test_a_connection_piling_up_jobs_is_refused_past_the_limit():
    async def scenario():
        jobs: JobQueue[int] = JobQueue()
        for job in range(MAX_PENDING_JOBS):
            jobs.put(job)
        with pytest.raises(QueueFullError, match=f"already has {MAX_PENDING_JOBS} requests waiting"):
            jobs.put(MAX_PENDING_JOBS)
        first = await jobs.get()
        jobs.put(MAX_PENDING_JOBS)  # a place came free
        return first

    assert asyncio.run(scenario()) == 0


def test_a_session_is_idle_only_when_it_is_not_busy_at_the_timeout():
    async def scenario():
        clock = FakeClock()
        busy = True
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting = asyncio.ensure_future(done_before_idle(clock, {never}, IDLE_S, lambda: busy))
        await clock.until_sleeping()
        clock.advance(IDLE_S)  # busy: waits on for another period
        await clock.until_sleeping()
        busy = False
        clock.advance(IDLE_S)
        idle = not await waiting
        arrived = asyncio.get_running_loop().create_future()
        arrived.set_result(None)
        done = await done_before_idle(clock, {arrived}, IDLE_S, lambda: False)
        return idle, never.cancelled(), done

    assert asyncio.run(scenario()) == (True, False, True)


def test_a_fed_text_reads_back_in_order_until_finished():
    async def scenario():
        feed = TextFeed()
        for piece in ("Hello ", "there. ", "Bye."):
            feed.feed(piece)
        feed.finish()
        return [text async for text in feed.texts()]

    assert asyncio.run(scenario()) == ["Hello ", "there. ", "Bye."]
