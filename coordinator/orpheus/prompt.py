"""Orpheus prompts in the official layout, and validation of the text and voice they carry.

Official layout (canopyai/Orpheus-TTS): [start_of_human] + [BOS] + tokens("{voice}: {text}")
+ [eot, end_of_human, start_of_ai, start_of_speech]. The model then speaks audio tokens until
end_of_speech.
"""

from __future__ import annotations

from collections.abc import Sequence

from coordinator.errors import InvalidInputError
from coordinator.orpheus.vocab import OrpheusVocab


def validate_text(text: str, *, param: str = "text") -> str:
    """Reject empty text; the text itself (emotion tags included) is kept verbatim. How long a text
    may be is the request limits' rule (MAX_INPUT_CHARS, service/limits.py), checked once where a
    request comes in; the work one text can cause is bounded here by MAX_UTTERANCES."""
    if not text or not text.strip():
        raise InvalidInputError(f"{param} is empty: give the words to speak", param=param)
    return text.strip()


def prompt_text(voice: str, text: str) -> str:
    """The human turn's text; emotion tags like <laugh> stay inline, as the model was trained."""
    return f"{voice}: {text}"


def build_prompt(vocab: OrpheusVocab, text_ids: Sequence[int]) -> list[int]:
    """Wrap the tokenized human turn (without BOS) in Orpheus' control tokens."""
    return [
        vocab.start_of_human,
        vocab.bos,
        *text_ids,
        vocab.eot,
        vocab.end_of_human,
        vocab.start_of_ai,
        vocab.start_of_speech,
    ]
