import contextlib
import socket

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event

from coordinator.launch.app import create_app
from tests.server.conftest import runtime, serving  # noqa: F401  (the server tests' live rig)

WYOMING_SEED = 7


async def error_after(client: AsyncTcpClient, *events: Event) -> Error:
    """Send ``events`` on ``client``; the server's answer must be an error event, then the end of
    the connection."""
    async with client as wy:
        for event in events:
            await wy.write_event(event)
        answer = await wy.read_event()
        assert answer is not None and Error.is_type(answer.type), answer
        assert await wy.read_event() is None
        return Error.from_event(answer)


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def wyoming_settings(settings):
    return settings.model_copy(
        update={
            "wyoming_port": free_port(),
            "wyoming_stt_port": free_port(),
            "wyoming_host": "127.0.0.1",
            "wyoming_seed": WYOMING_SEED,
        }
    )


@pytest.fixture(scope="module")
def live_app(wyoming_settings, runtime):  # noqa: F811
    """The app that ``live`` serves (its Wyoming servers are on ``state`` once it runs)."""
    return create_app(wyoming_settings, runtime=runtime)


@pytest.fixture(scope="module")
def live(live_app, wyoming_settings):
    """One real uvicorn serving HTTP and, from the same lifespan, Wyoming on loopback:
    yields (HTTP base URL, Wyoming port)."""
    with serving(live_app) as url:
        yield url, wyoming_settings.wyoming_port
