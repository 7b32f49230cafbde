"""POST /v1/chat/completions and /v1/completions (OpenAI shapes, SSE streaming with [DONE]).
The generation and its limits: service/text.py; here the request is read and the answer framed."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse

from coordinator.llm.chat import ChatMessage, TextStream
from coordinator.runtime.loading import Runtime
from coordinator.server.deps import get_limits, get_runtime
from coordinator.server.disconnect import unless_disconnected
from coordinator.server.errors import error_body, status_of
from coordinator.server.schemas.text import ChatCompletionRequest, CompletionRequest
from coordinator.server.streaming import SSE_DONE, STREAM_HEADERS, primed, sse_event
from coordinator.service import text
from coordinator.service.failures import stream_failure
from coordinator.service.limits import RequestLimits

router = APIRouter()


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    request: Request,
    body: ChatCompletionRequest,
    runtime: Runtime = Depends(get_runtime),
    limits: RequestLimits = Depends(get_limits),
) -> Response | dict:
    model, stream = text.start_chat(
        runtime,
        limits,
        model_id=body.model,
        messages=[ChatMessage(m.role, m.text()) for m in body.messages],
        max_tokens=body.requested_max_tokens(),
        sampling=body.sampling,
        stops=body.stops(),
    )
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict, finish: str | None) -> dict:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model.model_id,
            "choices": [choice],
        }

    if body.stream:
        first = chunk({"role": "assistant", "content": ""}, None)
        deltas = await primed(stream.deltas(), request)
        return _sse(
            stream, deltas, first, lambda delta: chunk({"content": delta}, None), lambda f: chunk({}, f)
        )
    reply = await unless_disconnected(request, text.joined(stream))
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": model.model_id,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": stream.finish_reason,
            }
        ],
        "usage": text.usage(stream),
    }


@router.post("/v1/completions", response_model=None)
async def completions(
    request: Request,
    body: CompletionRequest,
    runtime: Runtime = Depends(get_runtime),
    limits: RequestLimits = Depends(get_limits),
) -> Response | dict:
    model, stream = text.start_completion(
        runtime,
        limits,
        model_id=body.model,
        prompt=body.prompt,
        max_tokens=body.max_tokens,
        sampling=body.sampling,
        stops=body.stops(),
    )
    ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(written: str, finish: str | None) -> dict:
        choice = {"index": 0, "text": written, "logprobs": None, "finish_reason": finish}
        return {
            "id": ident,
            "object": "text_completion",
            "created": created,
            "model": model.model_id,
            "choices": [choice],
        }

    if body.stream:
        return _sse(
            stream,
            await primed(stream.deltas(), request),
            None,
            lambda delta: chunk(delta, None),
            lambda f: chunk("", f),
        )
    written = await unless_disconnected(request, text.joined(stream))
    return {**chunk(written, stream.finish_reason), "usage": text.usage(stream)}


def _sse(
    stream: TextStream,
    deltas: AsyncIterator[str],
    first: dict | None,
    delta_chunk: Callable[[str], dict],
    final_chunk: Callable[[str | None], dict],
) -> EventSourceResponse:
    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            if first is not None:
                yield sse_event(first)
            async for delta in deltas:
                yield sse_event(delta_chunk(delta))
            yield sse_event({**final_chunk(stream.finish_reason), "usage": text.usage(stream)})
        except Exception as exc:
            # The stream already started: report the failure as one more event, then end cleanly.
            error = stream_failure(exc)
            yield sse_event(error_body(error.message, status_of(error), param=error.param, code=error.code))
        finally:
            stream.cancel()
        yield {"data": SSE_DONE}

    return EventSourceResponse(events(), headers=STREAM_HEADERS)
