"""What every door says when the server cannot serve a request yet, or any more: the models are
loading (or downloading), the server is draining, or speech in is not installed. One wording for
the HTTP routes, the WebSockets and Wyoming."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coordinator.errors import ModelNotFoundError, NotReadyError

if TYPE_CHECKING:  # the messages need no model loaded
    from coordinator.runtime.loading import Runtime
    from coordinator.stt.engine import SpeechToText

LOADING_MESSAGE = "the models are still loading: retry in a few seconds"
DOWNLOADING_MESSAGE = "downloading the models (see the server log for progress): retry later"
SHUTTING_DOWN_MESSAGE = "the server is shutting down: retry in a few seconds (another replica may answer)"
STT_MISSING_MESSAGE = "speech in is not configured on this server: download the Whisper model (--only stt)"


def stt_of(runtime: Runtime) -> SpeechToText:
    """The speech recogniser, or the error (503 on HTTP) that names how to install it."""
    if runtime.stt is None:
        raise ModelNotFoundError(runtime.stt_missing or STT_MISSING_MESSAGE, param="model")
    return runtime.stt


def ready_runtime(runtime: Runtime | None, not_ready_reason: str | None) -> Runtime:
    """The loaded models, or the error (503 on HTTP) that says why there are none yet."""
    if runtime is None:
        raise NotReadyError(not_ready_reason or LOADING_MESSAGE)
    return runtime
