"""Which model names a transcription request may use. Pure: no engine.

This server has one speech recogniser, so a name only has to say "speech to text". OpenAI's
transcription names change every year and clients send whatever their default is (pipecat 1.14:
``gpt-transcribe``; Open WebUI: an empty string; Groq-style configs: ``whisper-large-v3``), so
the rule is a pattern, not a list: any Whisper spelling and any ``gpt-…transcribe…`` name.
"""

from __future__ import annotations

import re

# "whisper-1", "whisper-large-v3-turbo", "openai/whisper-small", "Systran/faster-whisper-small",
# "distil-whisper-large-v3": the word whisper at the start of the name or of one of its parts.
_WHISPER = re.compile(r"(?:^|[-_.])whisper")
# "gpt-4o-transcribe", "gpt-4o-mini-transcribe-2025-12-15", "gpt-transcribe", "gpt-5-transcribe".
_GPT_TRANSCRIBE = re.compile(r"^gpt-(?:.*-)?transcribe")

ACCEPTED_NAMES = "whisper-1 (any whisper* name), gpt-4o-transcribe (any gpt-*transcribe* name)"


def names_the_recogniser(requested: str, served_id: str) -> bool:
    """Whether ``requested`` (a request's ``model``) means the served recogniser ``served_id``:
    empty (the default), its own id, or an OpenAI transcription name. Case and an ``owner/``
    prefix (Hugging Face, LiteLLM) do not matter."""
    name = requested.strip().lower()
    if name in ("", served_id.lower()):
        return True
    name = name.rsplit("/", 1)[-1]
    return bool(_WHISPER.search(name) or _GPT_TRANSCRIBE.match(name))
