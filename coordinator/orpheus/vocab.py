"""Find Orpheus' special and audio tokens in a loaded model's own vocabulary.

Released Orpheus puts `<custom_token_N>` at id 128256 + N, but fine-tunes and test models differ,
so every id is looked up by its text and nothing assumes an offset or even contiguity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from coordinator.errors import ModelLoadError
from coordinator.orpheus.layout import (
    AUDIO_TOKEN_BASE,
    BOS_TEXT,
    CODEBOOK_SIZE,
    END_OF_AI_N,
    END_OF_HUMAN_N,
    END_OF_SPEECH_N,
    EOT_TEXT,
    FRAME_TOKENS,
    N_CUSTOM_TOKENS,
    START_OF_AI_N,
    START_OF_HUMAN_N,
    START_OF_SPEECH_N,
    custom_token_text,
)

_CUSTOM_TOKEN = re.compile(r"<custom_token_([0-9]+)>")
NOT_CUSTOM = -1


@dataclass(frozen=True, eq=False)
class OrpheusVocab:
    """Token ids of one loaded Orpheus model."""

    bos: int
    eot: int
    start_of_human: int
    end_of_human: int
    start_of_ai: int
    start_of_speech: int
    end_of_speech: int
    end_of_ai: int
    # slot_ids[s, c]: the id that carries code c at frame position s.
    slot_ids: np.ndarray
    # custom_n[id]: N of `<custom_token_N>` for that id, NOT_CUSTOM for any other token.
    custom_n: np.ndarray

    @property
    def stop_ids(self) -> np.ndarray:
        """Tokens that end an utterance (only allowed at a frame boundary)."""
        return np.array([self.end_of_speech, self.end_of_ai, self.eot], dtype=np.int64)

    @classmethod
    def from_token_texts(cls, texts: Sequence[str]) -> OrpheusVocab:
        """Build from the model's token strings, where ``texts[id]`` is the text of token ``id``."""
        custom_n = np.full(len(texts), NOT_CUSTOM, dtype=np.int64)
        id_of_n = np.full(N_CUSTOM_TOKENS, NOT_CUSTOM, dtype=np.int64)
        named: dict[str, int] = {}
        for token_id, text in enumerate(texts):
            match = _CUSTOM_TOKEN.fullmatch(text)
            if match is not None:
                n = int(match.group(1))
                # A number past the layout carries no code (and may not even fit an int64): such
                # a token stays NOT_CUSTOM, so it can never pass as an audio token.
                if n < N_CUSTOM_TOKENS:
                    custom_n[token_id] = n
                    id_of_n[n] = token_id
            elif text in (BOS_TEXT, EOT_TEXT):
                named.setdefault(text, token_id)

        missing = [custom_token_text(int(n)) for n in np.flatnonzero(id_of_n == NOT_CUSTOM)[:3]]
        missing += [text for text in (BOS_TEXT, EOT_TEXT) if text not in named]
        if missing:
            raise ModelLoadError(
                f"this model's vocabulary lacks Orpheus tokens (e.g. {', '.join(missing)}): "
                "it is not an Orpheus TTS model; point ORPHEUS_MODEL_PATH at an Orpheus GGUF"
            )
        audio = id_of_n[AUDIO_TOKEN_BASE:].reshape(FRAME_TOKENS, CODEBOOK_SIZE)
        return cls(
            bos=named[BOS_TEXT],
            eot=named[EOT_TEXT],
            start_of_human=int(id_of_n[START_OF_HUMAN_N]),
            end_of_human=int(id_of_n[END_OF_HUMAN_N]),
            start_of_ai=int(id_of_n[START_OF_AI_N]),
            start_of_speech=int(id_of_n[START_OF_SPEECH_N]),
            end_of_speech=int(id_of_n[END_OF_SPEECH_N]),
            end_of_ai=int(id_of_n[END_OF_AI_N]),
            slot_ids=audio,
            custom_n=custom_n,
        )
