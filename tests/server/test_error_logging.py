"""How loud each refusal is in the server's log: load and lifecycle answers are not faults."""

from __future__ import annotations

import logging

import pytest

from coordinator.errors import (
    ClientDisconnectedError,
    CoordinatorError,
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
from coordinator.server.errors import domain_error_response, status_of
from coordinator.service.failures import log_level_of, stream_failure


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
    with caplog.at_level(logging.DEBUG, logger="coordinator.service.failures"):
        stream_failure(QueueTimeoutError("no slot"))
        stream_failure(GenerationError("the engine failed"))
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.ERROR]


def _domain_errors(cls=CoordinatorError):
    for sub in cls.__subclasses__():
        yield sub
        yield from _domain_errors(sub)


@pytest.mark.parametrize("cls", sorted(set(_domain_errors()), key=lambda c: c.__name__))
def test_how_loud_a_failure_is_agrees_with_its_http_status(cls):
    """The loudness lives in the service layer (every door logs alike), the status in the HTTP
    door: a server fault (500) is ERROR, the client's own (4xx, 429 aside) INFO, ERROR only on 5xx."""
    error = cls("x")
    status, level = status_of(error), log_level_of(error)
    if status == 500:
        assert level == logging.ERROR
    if status < 500 and status != 429:
        assert level == logging.INFO
    if level == logging.ERROR:
        assert status >= 500
