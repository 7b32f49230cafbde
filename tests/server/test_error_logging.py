"""How loud each refusal is in the server's log: load and lifecycle answers are not faults."""

from __future__ import annotations

import logging

import pytest

from coordinator.errors import (
    ClientDisconnectedError,
    DeviceOutOfMemoryError,
    GenerationError,
    InternalError,
    InvalidInputError,
    ModelLoadError,
    NotReadyError,
    QueueFullError,
    QueueTimeoutError,
    ShuttingDownError,
    TooManySessionsError,
    UnknownModelError,
)
from coordinator.server.errors import domain_error_response, stream_failure


@pytest.mark.parametrize(
    "error, level",
    [
        (QueueTimeoutError("no slot within 30 s"), logging.WARNING),
        (QueueFullError("busy"), logging.WARNING),
        (TooManySessionsError("all sessions taken"), logging.WARNING),
        (DeviceOutOfMemoryError("device memory busy"), logging.WARNING),
        (NotReadyError("loading"), logging.INFO),
        (ShuttingDownError("draining"), logging.INFO),
        (ClientDisconnectedError("gone"), logging.INFO),
        (InvalidInputError("bad field", param="x"), logging.INFO),
        (UnknownModelError("no such model"), logging.INFO),
        (GenerationError("the engine failed"), logging.ERROR),
        (ModelLoadError("weights unreadable"), logging.ERROR),
        (InternalError("a bug"), logging.ERROR),
    ],
)
def test_an_error_answer_is_logged_at_the_level_its_kind_deserves(caplog, error, level):
    with caplog.at_level(logging.DEBUG, logger="coordinator.server.errors"):
        response = domain_error_response(error)
    (record,) = caplog.records
    assert record.levelno == level, (type(error).__name__, record.levelname)
    assert str(response.status_code) in record.getMessage() and error.message in record.getMessage()


def test_a_stream_ended_by_load_is_a_warning_and_by_a_fault_an_error(caplog):
    with caplog.at_level(logging.DEBUG, logger="coordinator.server.errors"):
        stream_failure(QueueTimeoutError("no slot"))
        stream_failure(GenerationError("the engine failed"))
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.ERROR]
