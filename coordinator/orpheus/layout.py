"""Numbers that define Orpheus' token layout (canopyai/Orpheus-TTS)."""

from __future__ import annotations

# `<custom_token_N>` numbers of the control tokens.
START_OF_SPEECH_N = 1
END_OF_SPEECH_N = 2
START_OF_HUMAN_N = 3
END_OF_HUMAN_N = 4
START_OF_AI_N = 5
END_OF_AI_N = 6
PAD_N = 7
# Audio tokens start here: audio token i of an utterance carries
# code = N - AUDIO_TOKEN_BASE - (i % FRAME_TOKENS) * CODEBOOK_SIZE.
AUDIO_TOKEN_BASE = 10

CODEBOOK_SIZE = 4096
MAX_CODE = CODEBOOK_SIZE - 1
# One SNAC frame is 7 tokens [a, b, c, d, e, f, g]: codebook 0 gets a; codebook 1 gets b, e;
# codebook 2 gets c, d, f, g. Codebooks 0/1/2 run at 1/2/4 codes per frame.
FRAME_TOKENS = 7
CODEBOOK_SLOTS: tuple[tuple[int, ...], ...] = ((0,), (1, 4), (2, 3, 5, 6))
CODES_PER_FRAME = tuple(len(slots) for slots in CODEBOOK_SLOTS)  # (1, 2, 4)
N_CUSTOM_TOKENS = AUDIO_TOKEN_BASE + FRAME_TOKENS * CODEBOOK_SIZE

BOS_TEXT = "<|begin_of_text|>"
EOT_TEXT = "<|eot_id|>"

EMOTION_TAGS = ("<laugh>", "<chuckle>", "<sigh>", "<cough>", "<sniffle>", "<groan>", "<yawn>", "<gasp>")


def custom_token_text(n: int) -> str:
    return f"<custom_token_{n}>"
