import pytest
from fastapi.testclient import TestClient

from coordinator.config import load_catalog
from coordinator.runtime import Runtime, load_llm
from coordinator.server.app import create_app


@pytest.fixture(scope="module")
def runtime(settings, tts):
    """The session's speech pipeline and a chat model, served as the app's runtime (the app does
    not close a runtime it was given)."""
    catalog = load_catalog(settings.catalog_path())
    llm = load_llm(settings, catalog)
    runtime = Runtime(settings=settings, catalog=catalog, tts=tts, llm=llm)
    yield runtime
    runtime.decode_executor.shutdown(wait=True)
    llm.close()


@pytest.fixture(scope="module")
def client(settings, runtime):
    with TestClient(create_app(settings, runtime=runtime)) as client:  # runs the lifespan
        yield client
