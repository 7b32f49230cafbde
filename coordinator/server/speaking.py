"""What the speech doors of the HTTP server share: the speaking service (service/speech.py) for a
request or a WebSocket, and a request's sampling fields as the service's ``Sampling``."""

from __future__ import annotations

from typing import Protocol

from fastapi import Depends
from starlette.datastructures import State

from coordinator.errors import InvalidInputError
from coordinator.runtime.loading import Runtime
from coordinator.server.deps import get_limits, get_metrics, get_runtime
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.service.speech import Sampling, Speaker


def get_speaker(
    runtime: Runtime = Depends(get_runtime),
    limits: RequestLimits = Depends(get_limits),
    metrics: Metrics = Depends(get_metrics),
) -> Speaker:
    return Speaker(runtime, limits, metrics)


def speaker_of(state: State, runtime: Runtime) -> Speaker:
    """The speaking service of a WebSocket (which has no request dependencies)."""
    return Speaker(runtime, state.limits, state.metrics)


_TRUE, _FALSE = frozenset({"true", "1", "yes", "on"}), frozenset({"false", "0", "no", "off"})


def query_flag(value: str | None, *, param: str, default: bool = True) -> bool:
    """A WebSocket's yes/no query parameter (``normalize=false``); anything else is refused."""
    if value is None or value == "":
        return default
    if value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise InvalidInputError(f"{param}={value!r} is not a yes/no value: send true or false", param=param)


class SamplingFields(Protocol):
    """A speech request's sampling fields (schemas/speech.py: ``_OrpheusSampling``)."""

    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    repetition_penalty: float | None
    seed: int | None


def sampling_of(body: SamplingFields) -> Sampling:
    return Sampling(
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        repetition_penalty=body.repetition_penalty,
        seed=body.seed,
    )
