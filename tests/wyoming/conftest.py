import contextlib
import socket

import pytest

from coordinator.server.app import create_app
from tests.server.conftest import runtime, serving  # noqa: F401  (the server tests' live rig)

WYOMING_SEED = 7


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
def live(wyoming_settings, runtime):  # noqa: F811
    """One real uvicorn serving HTTP and, from the same lifespan, Wyoming on loopback:
    yields (HTTP base URL, Wyoming port)."""
    app = create_app(wyoming_settings, runtime=runtime)
    with serving(app) as url:
        yield url, wyoming_settings.wyoming_port
