"""How loud each failure is, and what a stream that already started ends on when something fails.

Transport-neutral: the doors turn the domain error returned here into their own shape (an SSE or
WebSocket ``error`` event, a Wyoming ``error`` event, the end of an audio stream); the HTTP
status codes and OpenAI's error JSON stay in ``server/errors.py``.
"""

from __future__ import annotations

import logging

from coordinator.errors import (
    AudioDecodeError,
    CancelledError,
    ConfigError,
    CoordinatorError,
    DeviceOutOfMemoryError,
    GenerationError,
    InternalError,
    ModelLoadError,
    ModelNotFoundError,
    NotReadyError,
    QueueFullError,
    QueueTimeoutError,
    ShuttingDownError,
    TooManySessionsError,
)

logger = logging.getLogger(__name__)

# How loud each refusal is in the log. Load and lifecycle answers (a full queue, a wait that timed
# out, device memory busy, still loading, draining) are what a busy server says, not faults: an
# operator scales on them (metrics, WARNING), but an alert on ERROR must not fire for them. Most
# specific class first (ClientDisconnectedError is a CancelledError).
_LOG_LEVEL: tuple[tuple[type[CoordinatorError], int], ...] = (
    (QueueFullError, logging.WARNING),
    (TooManySessionsError, logging.WARNING),
    (QueueTimeoutError, logging.WARNING),
    (DeviceOutOfMemoryError, logging.WARNING),
    (NotReadyError, logging.INFO),
    (ShuttingDownError, logging.INFO),
    (CancelledError, logging.INFO),
)
# Below those, the server's own faults (a 5xx on HTTP) are ERROR; the rest are the client's
# (a 4xx), INFO.
_FAULTS: tuple[type[CoordinatorError], ...] = (
    ModelLoadError,
    ModelNotFoundError,
    ConfigError,
    GenerationError,
    AudioDecodeError,
    InternalError,
)
INTERNAL_ERROR_MESSAGE = "internal error: the server logged the details"


def log_level_of(error: CoordinatorError) -> int:
    for cls, level in _LOG_LEVEL:
        if isinstance(error, cls):
            return level
    return logging.ERROR if isinstance(error, _FAULTS) else logging.INFO


def stream_failure(exc: Exception) -> CoordinatorError:
    """A failure after a response started streaming, logged here, as the domain error to report
    in the stream (an error event) or to end it on (audio). Unexpected exceptions become an
    InternalError, so no exception text or traceback reaches the client."""
    if isinstance(exc, CoordinatorError):
        logger.log(
            max(log_level_of(exc), logging.WARNING),
            "stream failed after it started: %s: %s",
            type(exc).__name__,
            exc.message,
        )
        return exc
    logger.error("stream failed after it started", exc_info=exc)
    return InternalError(INTERNAL_ERROR_MESSAGE)
