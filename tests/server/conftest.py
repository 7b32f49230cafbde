import contextlib
import socket
import threading

import pytest
import uvicorn
from fastapi.testclient import TestClient

from coordinator.config.catalog import load_catalog
from coordinator.runtime.loading import Runtime, load_llm
from coordinator.server.app import create_app
from tests.rig.waiting import eventually


@pytest.fixture(scope="module")
def runtime(settings, tts, stt):
    """The session's speech pipeline and a chat model, served as the app's runtime (the app does
    not close a runtime it was given)."""
    catalog = load_catalog(settings.catalog_path())
    llm = load_llm(settings, catalog)
    runtime = Runtime(settings=settings, catalog=catalog, tts=tts, llm=llm, stt=stt)
    yield runtime
    runtime.snac.close()
    llm.close()


@pytest.fixture(scope="module")
def client(settings, runtime):
    with TestClient(create_app(settings, runtime=runtime)) as client:  # runs the lifespan
        yield client


@contextlib.contextmanager
def serving(app, port: int = 0):
    """A real uvicorn serving ``app`` on a loopback port (default: a free one); yields its base URL.
    A fixed ``port`` can be served again right after (a server restart): the socket reuses it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    eventually(lambda: server.started, "uvicorn started")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="module")
def live_url(settings, runtime):
    """A real uvicorn on a free loopback port, serving the test runtime."""
    with serving(create_app(settings, runtime=runtime)) as url:
        yield url
