"""Writing text: a chat or a text completion from the models loaded for it, within the
operator's limits. Transport-neutral: the door parses the request, starts the stream here, and
frames its deltas, its end and its usage in its own protocol (OpenAI's shapes on HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from coordinator.engine.sampling import SamplingParams
from coordinator.errors import UnknownModelError
from coordinator.llm.chat import ChatMessage, TextModel, TextStream
from coordinator.runtime.loading import Runtime
from coordinator.service.limits import RequestLimits

DEFAULT_CHAT_MAX_TOKENS = 512
DEFAULT_COMPLETION_MAX_TOKENS = 16  # OpenAI's default for /v1/completions

# The request's sampling, given the completion token limit settled here.
Sampling = Callable[[int], SamplingParams]


def pick_model(runtime: Runtime, requested: str, *, chat: bool) -> TextModel:
    """The text model named ``requested``: for a chat, the chat model; for a completion, it or
    one of the speech models (whose raw prompts some front ends write themselves)."""
    candidates = [runtime.llm] if chat else [runtime.llm, *(model.text for model in runtime.speech)]
    model = next((m for m in candidates if m.model_id == requested), None)
    if model is None:
        ids = ", ".join(repr(m.model_id) for m in candidates)
        raise UnknownModelError(f"model {requested!r} does not exist here: use {ids}", param="model")
    return model


def start_chat(
    runtime: Runtime,
    limits: RequestLimits,
    *,
    model_id: str,
    messages: Sequence[ChatMessage],
    max_tokens: tuple[int | None, str],
    sampling: Sampling,
    stops: Sequence[str],
) -> tuple[TextModel, TextStream]:
    """Check the conversation against the limits and start the reply (on the running event
    loop). ``max_tokens``: the limit asked for (None: the default) and the field that asked."""
    model = pick_model(runtime, model_id, chat=True)
    *earlier, last = [m.content for m in messages]
    limits.check_conversation(earlier, param="messages")
    limits.check_text(last, param=f"messages.{len(earlier)}.content")
    requested, param = max_tokens
    tokens = limits.completion_tokens(requested, default=DEFAULT_CHAT_MAX_TOKENS, param=param)
    generation = model.chat_request(messages, sampling(tokens))
    return model, model.start(generation, stops=stops, loop=asyncio.get_running_loop())


def start_completion(
    runtime: Runtime,
    limits: RequestLimits,
    *,
    model_id: str,
    prompt: str,
    max_tokens: int | None,
    sampling: Sampling,
    stops: Sequence[str],
) -> tuple[TextModel, TextStream]:
    """Check the prompt against the limits and start its continuation (on the running loop)."""
    model = pick_model(runtime, model_id, chat=False)
    limits.check_text(prompt, param="prompt")
    tokens = limits.completion_tokens(max_tokens, default=DEFAULT_COMPLETION_MAX_TOKENS, param="max_tokens")
    generation = model.completion_request(prompt, sampling(tokens))
    return model, model.start(generation, stops=stops, loop=asyncio.get_running_loop())


def usage(stream: TextStream) -> dict[str, int]:
    """The tokens a finished stream read and wrote."""
    return {
        "prompt_tokens": stream.prompt_tokens,
        "completion_tokens": stream.completion_tokens,
        "total_tokens": stream.prompt_tokens + stream.completion_tokens,
    }


async def joined(stream: TextStream) -> str:
    """The whole text of a stream, for an answer sent in one piece."""
    return "".join([delta async for delta in stream.deltas()])
