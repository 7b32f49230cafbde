"""One ``llama_batch``, filled through numpy views of its C arrays: all the ctypes bookkeeping the
engine's step needs, so that the engine itself deals in sequences, slots and tokens."""

from __future__ import annotations

from typing import Any

import llama_cpp
import numpy as np

_TOKEN_IDS = 0  # llama_batch_init's embd: 0 means the batch carries token ids, not embeddings
_SEQUENCES_PER_TOKEN = 1  # every token belongs to one sequence (its request's slot)


class TokenBatch:
    """Room for ``capacity`` tokens, each at a position of one sequence. Owned by the engine's
    worker thread; ``free`` it once (the engine's ``close``)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._raw = llama_cpp.llama_batch_init(capacity, _TOKEN_IDS, _SEQUENCES_PER_TOKEN)
        self._tokens = np.ctypeslib.as_array(self._raw.token, shape=(capacity,))
        self._positions = np.ctypeslib.as_array(self._raw.pos, shape=(capacity,))
        self._wants_logits = np.ctypeslib.as_array(self._raw.logits, shape=(capacity,))
        np.ctypeslib.as_array(self._raw.n_seq_id, shape=(capacity,))[:] = _SEQUENCES_PER_TOKEN

    def put(self, index: int, token: int, position: int, slot: int, *, logits: bool) -> None:
        """Token ``index`` of the batch: ``token`` at ``position`` of sequence ``slot``; ``logits``:
        whether the decode keeps this token's logits (a row of llama_get_logits, in batch order)."""
        self._tokens[index] = token
        self._positions[index] = position
        self._raw.seq_id[index][0] = slot
        self._wants_logits[index] = logits

    def want_logits(self, index: int) -> None:
        self._wants_logits[index] = True

    def decode(self, ctx: Any, n_tokens: int) -> int:
        """llama_decode the first ``n_tokens``; its status (0: decoded)."""
        self._raw.n_tokens = n_tokens
        return int(llama_cpp.llama_decode(ctx, self._raw))

    def free(self) -> None:
        llama_cpp.llama_batch_free(self._raw)
