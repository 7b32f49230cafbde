"""Small accessors routes use to reach what the lifespan loaded (tests pass their own runtime)."""

from __future__ import annotations

from fastapi import Depends, Request

from coordinator.errors import ModelNotFoundError, NotReadyError
from coordinator.runtime.loading import Runtime
from coordinator.server.limits import RequestLimits
from coordinator.server.metrics import Metrics
from coordinator.stt.engine import SpeechToText
from coordinator.tts.synthesis import OrpheusTTS

LOADING_MESSAGE = "the models are still loading: retry in a few seconds"
DOWNLOADING_MESSAGE = "downloading the models (see the server log for progress): retry later"


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime | None = request.app.state.runtime
    if runtime is None:
        raise NotReadyError(request.app.state.not_ready_reason or LOADING_MESSAGE)
    return runtime


def get_tts(runtime: Runtime = Depends(get_runtime)) -> OrpheusTTS:
    return runtime.tts


STT_MISSING_MESSAGE = "speech in is not configured on this server: download the Whisper model (--only stt)"


def stt_of(runtime: Runtime) -> SpeechToText:
    """The speech recogniser, or the 503 that names how to install it."""
    if runtime.stt is None:
        raise ModelNotFoundError(runtime.stt_missing or STT_MISSING_MESSAGE, param="model")
    return runtime.stt


def get_stt(runtime: Runtime = Depends(get_runtime)) -> SpeechToText:
    return stt_of(runtime)


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def get_limits(request: Request) -> RequestLimits:
    limits: RequestLimits = request.app.state.limits
    return limits
