"""Text generation on a batch engine: chat (through the model's own GGUF chat template) and plain
completions, streamed as text deltas with stop strings and usage."""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from coordinator.engine.batch_engine import BatchEngine, GenerationRequest
from coordinator.engine.llama_model import LlamaModel
from coordinator.engine.sampling import SamplingParams
from coordinator.engine.stream import FinishReason, GenerationStream, OnGeneration
from coordinator.errors import InvalidInputError
from coordinator.text.stops import StopMatcher

CHAT_TEMPLATE_KEY = "tokenizer.chat_template"
SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


class TextStream(OnGeneration):
    """Text deltas of one generation; ``finish_reason`` and token counts are set when it ends."""

    def __init__(
        self, generation: GenerationStream, model: LlamaModel, *, special: bool, stops: Sequence[str]
    ):
        super().__init__(generation)
        self._model = model
        self._special = special
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = StopMatcher(stops)
        self.finish_reason: FinishReason | None = None

    async def deltas(self) -> AsyncIterator[str]:
        finished = False
        try:
            while not finished:
                batch = await self._generation.anext_batch()
                finished = batch.finished
                raw = b"".join(self._model.token_piece(t, special=self._special) for t in batch.tokens)
                text = self._stops.feed(self._decoder.decode(raw, final=finished))
                if text:
                    yield text
                if self._stops.stopped:
                    self.finish_reason = "stop"
                    return
            tail = self._stops.flush()
            if tail:
                yield tail
            self.finish_reason = self._generation.finish_reason
        finally:
            if not finished:
                self._generation.cancel()


class TextModel:
    """A loaded GGUF model served for text: chat (if it has a template) and completions."""

    def __init__(
        self, engine: BatchEngine, *, model_id: str, quant: str, special_tokens_in_output: bool
    ) -> None:
        self.engine = engine
        self.model_id = model_id
        self.quant = quant
        self._special = special_tokens_in_output
        model = engine.model
        self._stop_ids = model.end_of_generation_ids()
        self.chat_template = model.metadata(CHAT_TEMPLATE_KEY)
        self._formatter = None
        if self.chat_template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(
                self.chat_template,
                eos_token=model.token_text(model.eos_id),
                bos_token=model.token_text(model.bos_id),
            )

    @property
    def model(self) -> LlamaModel:
        return self.engine.model

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text for ``messages``, by the model's own chat template."""
        if self._formatter is None:
            raise InvalidInputError(
                f"{self.model_id} has no chat template: use /v1/completions", param="model"
            )
        if not messages:
            raise InvalidInputError("messages is empty: send at least one user message", param="messages")
        try:
            return self._formatter(messages=cast(Any, [m.__dict__ for m in messages])).prompt
        except ValueError as exc:
            if messages[0].role == SYSTEM_ROLE and len(messages) > 1:
                # Gemma's template refuses a system turn; OpenAI clients send one routinely. Fold it
                # into the first user turn, which is how Gemma is meant to be instructed.
                first = ChatMessage(messages[1].role, f"{messages[0].content}\n\n{messages[1].content}")
                return self.render_chat([first, *messages[2:]])
            raise InvalidInputError(
                f"the chat template rejected the messages: {exc}", param="messages"
            ) from None

    def chat_request(self, messages: Sequence[ChatMessage], params: SamplingParams) -> GenerationRequest:
        # The template writes BOS and turn markers itself, so special tokens are parsed here.
        prompt = self.model.tokenize(self.render_chat(messages), add_special=False, parse_special=True)
        return self._request(prompt, params)

    def completion_request(self, prompt: str, params: SamplingParams) -> GenerationRequest:
        if not prompt:
            raise InvalidInputError("prompt is empty", param="prompt")
        # Like llama.cpp's server: special tokens written in the prompt are honoured (front ends
        # built for an Orpheus llama.cpp backend send <custom_token_N> and <|eot_id|> as text).
        return self._request(self.model.tokenize(prompt, add_special=True, parse_special=True), params)

    def _request(self, prompt: list[int], params: SamplingParams) -> GenerationRequest:
        request = GenerationRequest(prompt=prompt, params=params, stop_ids=self._stop_ids)
        self.engine.validate(request)
        return request

    def start(
        self, request: GenerationRequest, *, stops: Sequence[str] = (), loop: asyncio.AbstractEventLoop
    ) -> TextStream:
        generation = self.engine.submit(request, loop=loop)
        return TextStream(generation, self.model, special=self._special, stops=stops)

    def close(self) -> None:
        self.engine.close()
        self.model.close()
