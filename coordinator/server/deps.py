"""Small accessors routes use to reach what the lifespan loaded (tests pass their own runtime)."""

from __future__ import annotations

from fastapi import Request

from coordinator.runtime.loading import Runtime
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.service.readiness import ready_runtime


def get_runtime(request: Request) -> Runtime:
    return ready_runtime(request.app.state.runtime, request.app.state.not_ready_reason)


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def get_limits(request: Request) -> RequestLimits:
    limits: RequestLimits = request.app.state.limits
    return limits
