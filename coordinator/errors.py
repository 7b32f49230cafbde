"""Domain errors: every problem a user can cause or fix, each with a message naming the fix.

The CLI prints ``str(error)`` as one line; the HTTP layer maps these classes to status codes and
OpenAI's error JSON in one place (``coordinator.server.errors``). Nothing here knows about HTTP.
"""

from __future__ import annotations


class CoordinatorError(Exception):
    """Base class. ``param`` names the offending input field; ``code`` is a stable machine id."""

    code: str = "invalid_request"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidInputError(CoordinatorError):
    """A request field is empty, too long, unknown or out of range."""

    code = "invalid_value"


class UnknownModelError(InvalidInputError):
    """A request names a model this server does not serve."""

    code = "model_not_found"


class NotReadyError(CoordinatorError):
    """The models are still loading (or failed to load); the request can be retried."""

    code = "model_loading"


class ShuttingDownError(CoordinatorError):
    """The server is draining before it stops: retry (another replica, or this one restarted)."""

    code = "shutting_down"


class QueueFullError(CoordinatorError):
    """Every sequence slot is busy and the wait queue is full: retry shortly."""

    code = "rate_limit_exceeded"


class AuthenticationError(CoordinatorError):
    """The request carries no API key, or one this server does not accept."""

    code = "invalid_api_key"


class PayloadTooLargeError(CoordinatorError):
    """The request body is larger than the server accepts."""

    code = "request_too_large"


class TooManySessionsError(CoordinatorError):
    """Every WebSocket session slot is taken: retry later."""

    code = "too_many_sessions"


class QueueTimeoutError(CoordinatorError):
    """The request waited for a free sequence slot longer than the server allows."""

    code = "queue_timeout"


class ContextLengthExceededError(InvalidInputError):
    """Prompt plus requested tokens do not fit the model's context window."""

    code = "context_length_exceeded"


class ConfigError(CoordinatorError):
    """models.yaml or an environment variable is malformed or names something unknown."""

    code = "invalid_config"


class ModelNotFoundError(CoordinatorError):
    """A model file or directory the configuration points at does not exist."""

    code = "model_not_found"


class ModelLoadError(CoordinatorError):
    """A model file exists but cannot be used (corrupt, wrong vocabulary, missing weights)."""

    code = "model_load_failed"


class InvalidCodesError(CoordinatorError):
    """A saved SNAC code file has the wrong keys, lengths, types or values."""

    code = "invalid_codes"


class GenerationError(CoordinatorError):
    """The inference engine failed while generating; not the caller's fault."""

    code = "generation_failed"


class AudioDecodeError(CoordinatorError):
    """SNAC failed to turn codes into audio; not the caller's fault."""

    code = "decode_failed"


class DeviceOutOfMemoryError(CoordinatorError):
    """The device (GPU, or the host for a CPU codec) ran out of memory: retry shortly, or lower
    MAX_CONCURRENT_STREAMS / SNAC_BATCH_FRAMES if it keeps happening."""

    code = "out_of_memory"


class InternalError(CoordinatorError):
    """Something failed that no other error describes (a bug): the server logged the details."""

    code = "internal_error"


class CancelledError(CoordinatorError):
    """The sequence was cancelled (client gone, Ctrl-C) before it finished."""

    code = "cancelled"


class ClientDisconnectedError(CancelledError):
    """The client went away before its response started: nobody reads the answer, and nothing
    went wrong on the server's side."""

    code = "client_disconnected"


class VoiceNotFoundError(CoordinatorError):
    """No custom voice has that id (never created, or deleted)."""

    code = "voice_not_found"


class VoiceConflictError(CoordinatorError):
    """A custom voice's name is taken: by another custom voice, a built-in voice or an OpenAI alias."""

    code = "voice_exists"
