"""The one place where failures get this door's answers: the HTTP status of each domain error,
OpenAI's error shape ``{"error": {"message", "type", "param", "code"}}`` (a response, or an event
of a stream), and the WebSocket close codes. Never a traceback, never FastAPI's 422. What raises
reaches these through the app's exception handlers (``error_handlers.py``) or the middlewares."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi.responses import JSONResponse

from coordinator.errors import (
    AudioDecodeError,
    AuthenticationError,
    CancelledError,
    ClientDisconnectedError,
    ConfigError,
    CoordinatorError,
    DeviceOutOfMemoryError,
    GenerationError,
    InternalError,
    ModelLoadError,
    ModelNotFoundError,
    NotReadyError,
    PayloadTooLargeError,
    QueueFullError,
    QueueTimeoutError,
    ShuttingDownError,
    TooManySessionsError,
    UnknownModelError,
    VoiceConflictError,
    VoiceNotFoundError,
)
from coordinator.service.failures import log_level_of

logger = logging.getLogger(__name__)

CLIENT_CLOSED_REQUEST = 499
# Most specific class first.
_STATUS: tuple[tuple[type[CoordinatorError], int], ...] = (
    (AuthenticationError, 401),
    # nginx's "client closed request": counted apart from failures, and not logged as an error.
    (ClientDisconnectedError, CLIENT_CLOSED_REQUEST),
    (UnknownModelError, 404),
    (VoiceNotFoundError, 404),
    (VoiceConflictError, 409),
    (PayloadTooLargeError, 413),
    (QueueFullError, 429),
    (TooManySessionsError, 429),
    (QueueTimeoutError, 503),
    (NotReadyError, 503),
    (ShuttingDownError, 503),
    (ModelLoadError, 503),
    (ModelNotFoundError, 503),
    (DeviceOutOfMemoryError, 503),  # transient: memory frees as other streams finish
    (ConfigError, 500),
    (GenerationError, 500),
    (AudioDecodeError, 500),
    (InternalError, 500),
    (CancelledError, 503),
)
_DEFAULT_STATUS = 400
REQUEST_ID_HEADER = "X-Request-ID"
RETRY_AFTER_S = 5

# WebSocket close codes (RFC 6455): 1013 "try again later" tells a client that retrying is the fix,
# 1011 "internal error" that the server failed; every other refusal is a policy violation.
WS_POLICY_VIOLATION = 1008
WS_TRY_AGAIN_LATER = 1013
WS_INTERNAL_ERROR = 1011
# A close frame's reason may hold at most 123 bytes.
WS_CLOSE_REASON_BYTES = 123


def status_of(error: CoordinatorError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return _DEFAULT_STATUS


def error_body(message: str, status: int, *, param: str | None = None, code: str | None = None) -> dict:
    kind = (
        "rate_limit_exceeded"
        if status == 429
        else "invalid_request_error"
        if status < 500
        else "server_error"
    )
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(
    message: str,
    status: int,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """``headers``: ones the status requires besides those added here (405's ``Allow``)."""
    headers = dict(headers or {})
    if status in (429, 503):
        headers["Retry-After"] = str(RETRY_AFTER_S)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"  # RFC 6750: say which scheme would have worked
    return JSONResponse(
        error_body(message, status, param=param, code=code), status_code=status, headers=headers or None
    )


def domain_error_response(error: CoordinatorError) -> JSONResponse:
    status = status_of(error)
    logger.log(log_level_of(error), "%s %d: %s", type(error).__name__, status, error.message)
    return error_response(error.message, status, param=error.param, code=error.code)


def error_event(error: CoordinatorError) -> dict:
    """The error as one typed event of a stream (SSE or WebSocket), in OpenAI's error shape."""
    body = error_body(error.message, status_of(error), param=error.param, code=error.code)
    return {"type": "error", **body}


def ws_close_code(error: CoordinatorError) -> int:
    status = status_of(error)
    if status in (429, 503):
        return WS_TRY_AGAIN_LATER
    return WS_INTERNAL_ERROR if status >= 500 else WS_POLICY_VIOLATION


def ws_close_reason(error: CoordinatorError) -> str:
    """The problem part of "problem: fix", cut to what a close frame can carry (the full message
    goes out as an error event before the close)."""
    problem = error.message.split(":", 1)[0]
    return problem.encode()[:WS_CLOSE_REASON_BYTES].decode(errors="ignore")
