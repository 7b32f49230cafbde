"""What one request may ask of the models, as the operator set it: characters of text, completion
tokens, earlier messages of a conversation. Checked before anything is tokenized or queued; each
refusal is a 400 (an error event on the sockets) naming the limit and the fix. (The body size and
the sessions are limited earlier, by each door: ``server/security.py``, the Wyoming server; the
context window last, by the engine, in tokens.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from coordinator.config.settings import Settings
from coordinator.errors import InvalidInputError

if TYPE_CHECKING:  # the limits themselves need no model loaded
    from coordinator.runtime.loading import Runtime


@dataclass(frozen=True)
class RequestLimits:
    max_input_chars: int
    max_completion_tokens: int
    max_history_messages: int
    max_audio_seconds: float = float("inf")  # of one transcription (MAX_AUDIO_SECONDS)
    # Text is read in its spoken form (NORMALIZE_TEXT); a request may turn that off, never on.
    normalize_text: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLimits:
        return cls(
            max_input_chars=settings.max_input_chars,
            max_completion_tokens=settings.max_completion_tokens,
            max_history_messages=settings.max_history_messages,
            max_audio_seconds=settings.max_audio_seconds,
            normalize_text=settings.normalize_text,
        )

    def check_text(self, text: str, *, param: str) -> None:
        if len(text) > self.max_input_chars:
            raise InvalidInputError(
                f"{param} is {len(text)} characters, over this server's limit of {self.max_input_chars} "
                "(MAX_INPUT_CHARS): shorten it or split it into several requests",
                param=param,
            )

    def check_streamed(self, chars: int, *, param: str) -> None:
        """A text that arrives in pieces, ``chars`` long so far: held to the same limit in all."""
        if chars > self.max_input_chars:
            raise InvalidInputError(
                f"the streamed text is over this server's limit of {self.max_input_chars} characters "
                "(MAX_INPUT_CHARS): send a longer text as several streams",
                param=param,
            )

    def completion_tokens(self, requested: int | None, *, default: int, param: str) -> int:
        """The token limit to generate with: the request's own (refused above the server's cap,
        as OpenAI refuses a max_tokens beyond the model's), or ``default`` kept under the cap."""
        if requested is None:
            return min(default, self.max_completion_tokens)
        if requested > self.max_completion_tokens:
            raise InvalidInputError(
                f"{param}={requested} is too large: this server generates at most "
                f"{self.max_completion_tokens} tokens per request (MAX_COMPLETION_TOKENS): "
                f"ask for {self.max_completion_tokens} or fewer",
                param=param,
            )
        return requested

    def check_conversation(self, earlier: Sequence[str], *, param: str) -> None:
        """The earlier messages a chat request carries: how many, and each one's length."""
        if len(earlier) > self.max_history_messages:
            raise InvalidInputError(
                f"{param} carries {len(earlier)} earlier messages, over this server's limit of "
                f"{self.max_history_messages} (MAX_HISTORY_MESSAGES): send only the most recent ones",
                param=param,
            )
        for index, text in enumerate(earlier):
            self.check_text(text, param=f"{param}.{index}.content")


def speech_max_tokens(requested: int | None, runtime: Runtime, limits: RequestLimits) -> int:
    """Audio tokens per utterance: as asked, within the server's cap, else TTS_MAX_TOKENS."""
    return limits.completion_tokens(
        requested, default=runtime.tts.default_params.max_tokens, param="max_tokens"
    )
