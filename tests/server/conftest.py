import pytest
from fastapi.testclient import TestClient

from coordinator.config import load_catalog
from coordinator.runtime import Runtime
from coordinator.server.app import create_app


@pytest.fixture(scope="module")
def runtime(settings, tts):
    """The session's speech pipeline served as the app's runtime (the app does not close it)."""
    runtime = Runtime(settings=settings, catalog=load_catalog(settings.catalog_path()), tts=tts)
    yield runtime
    runtime.decode_executor.shutdown(wait=True)


@pytest.fixture(scope="module")
def client(settings, runtime):
    with TestClient(create_app(settings, runtime=runtime)) as client:  # runs the lifespan
        yield client
