import pytest

from coordinator.config.catalog import load_catalog
from coordinator.runtime.loading import Runtime, load_llm


@pytest.fixture(scope="module")
def runtime(settings, tts):
    """The session's speech pipeline (and the chat model a runtime holds), without any door."""
    catalog = load_catalog(settings.catalog_path())
    llm = load_llm(settings, catalog)
    runtime = Runtime(settings=settings, catalog=catalog, tts=tts, llm=llm)
    yield runtime
    runtime.snac.close()
    llm.close()
