"""POST /v1/chat/completions and /v1/completions (OpenAI shapes, SSE streaming with [DONE])."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse

from coordinator.errors import UnknownModelError
from coordinator.llm.chat import ChatMessage, TextModel, TextStream
from coordinator.runtime.loading import Runtime
from coordinator.server.deps import get_limits, get_runtime
from coordinator.server.disconnect import unless_disconnected
from coordinator.server.errors import error_body, status_of
from coordinator.server.schemas.text import ChatCompletionRequest, CompletionRequest
from coordinator.server.streaming import SSE_DONE, STREAM_HEADERS, primed, sse_event
from coordinator.service.failures import stream_failure
from coordinator.service.limits import RequestLimits

logger = logging.getLogger(__name__)
router = APIRouter()

DEFAULT_CHAT_MAX_TOKENS = 512
DEFAULT_COMPLETION_MAX_TOKENS = 16  # OpenAI's default for /v1/completions


def _usage(stream: TextStream) -> dict[str, int]:
    return {
        "prompt_tokens": stream.prompt_tokens,
        "completion_tokens": stream.completion_tokens,
        "total_tokens": stream.prompt_tokens + stream.completion_tokens,
    }


def _pick(runtime: Runtime, requested: str, *, chat: bool) -> TextModel:
    candidates = [runtime.llm] if chat else [runtime.llm, *(model.text for model in runtime.speech)]
    model = next((m for m in candidates if m.model_id == requested), None)
    if model is None:
        ids = ", ".join(repr(m.model_id) for m in candidates)
        raise UnknownModelError(f"model {requested!r} does not exist here: use {ids}", param="model")
    return model


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    request: Request,
    body: ChatCompletionRequest,
    runtime: Runtime = Depends(get_runtime),
    limits: RequestLimits = Depends(get_limits),
) -> Response | dict:
    model = _pick(runtime, body.model, chat=True)
    messages = [ChatMessage(m.role, m.text()) for m in body.messages]
    *earlier, last = [m.content for m in messages]
    limits.check_conversation(earlier, param="messages")
    limits.check_text(last, param=f"messages.{len(earlier)}.content")
    requested, param = body.requested_max_tokens()
    max_tokens = limits.completion_tokens(requested, default=DEFAULT_CHAT_MAX_TOKENS, param=param)
    generation = model.chat_request(messages, body.sampling(max_tokens))
    stream = model.start(generation, stops=body.stops(), loop=asyncio.get_running_loop())
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
            stream, deltas, first, lambda text: chunk({"content": text}, None), lambda f: chunk({}, f)
        )
    text = await unless_disconnected(request, _joined(stream))
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": model.model_id,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": stream.finish_reason,
            }
        ],
        "usage": _usage(stream),
    }


@router.post("/v1/completions", response_model=None)
async def completions(
    request: Request,
    body: CompletionRequest,
    runtime: Runtime = Depends(get_runtime),
    limits: RequestLimits = Depends(get_limits),
) -> Response | dict:
    model = _pick(runtime, body.model, chat=False)
    limits.check_text(body.prompt, param="prompt")
    max_tokens = limits.completion_tokens(
        body.max_tokens, default=DEFAULT_COMPLETION_MAX_TOKENS, param="max_tokens"
    )
    generation = model.completion_request(body.prompt, body.sampling(max_tokens))
    stream = model.start(generation, stops=body.stops(), loop=asyncio.get_running_loop())
    ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(text: str, finish: str | None) -> dict:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
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
            lambda text: chunk(text, None),
            lambda f: chunk("", f),
        )
    text = await unless_disconnected(request, _joined(stream))
    return {**chunk(text, stream.finish_reason), "usage": _usage(stream)}


async def _joined(stream: TextStream) -> str:
    return "".join([delta async for delta in stream.deltas()])


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
            async for text in deltas:
                yield sse_event(delta_chunk(text))
            yield sse_event({**final_chunk(stream.finish_reason), "usage": _usage(stream)})
        except Exception as exc:
            # The stream already started: report the failure as one more event, then end cleanly.
            error = stream_failure(exc)
            yield sse_event(error_body(error.message, status_of(error), param=error.param, code=error.code))
        finally:
            stream.cancel()
        yield {"data": SSE_DONE}

    return EventSourceResponse(events(), headers=STREAM_HEADERS)
