"""Which free slot a new prompt should take, given the prompt prefixes free slots still hold.

Pure helpers for the batch engine's prefix cache (batch_engine.py): the engine keeps, per free
slot, the prompt tokens whose KV cells the slot still holds; a new request goes where the most of
its prompt is already decoded, and otherwise to an empty slot, so that one voice's kept reference
is not evicted while another slot is free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def shared_prefix(kept: np.ndarray, prompt: Sequence[int]) -> int:
    """How many leading tokens ``kept`` and ``prompt`` have in common."""
    n = min(len(kept), len(prompt))
    if n == 0:
        return 0
    differs = np.flatnonzero(kept[:n] != np.asarray(prompt[:n], dtype=np.int64))
    return int(differs[0]) if differs.size else n


def best_slot(free_slots: Sequence[int], kept: Mapping[int, np.ndarray], prompt: Sequence[int]) -> int:
    """The index in ``free_slots`` for ``prompt``: the longest shared prefix first, then the fewest
    kept cells (an empty slot before one holding another prefix), then the latest freed (the
    engine's order without a prefix cache)."""
    empty = np.empty(0, dtype=np.int64)

    def rank(index: int) -> tuple[int, int, int]:
        cells = kept.get(free_slots[index], empty)
        return shared_prefix(cells, prompt), -len(cells), index

    return max(range(len(free_slots)), key=rank)
