"""The released models' shapes reproduce their published parameter counts and sizes."""

import pytest

from coordinator.bench.shapes import (
    GEMMA2_2B,
    GEMMA_VOCAB,
    ORPHEUS_3B,
    ORPHEUS_VOCAB,
    kv_cache_bytes,
    weight_bytes,
)


def test_orpheus_3b_has_the_3_78_billion_weights_of_its_ggufs():
    # Zuellni/orpheus-3b-0.1-ft-GGUF (the lex-au conversion's twin): 3.78 B params, Q8_0 4.03 GB.
    assert ORPHEUS_3B.parameters(ORPHEUS_VOCAB) == pytest.approx(3.78e9, rel=0.005)
    assert weight_bytes(ORPHEUS_3B, ORPHEUS_VOCAB, "Q8_0") == pytest.approx(4.03e9, rel=0.01)
    assert weight_bytes(ORPHEUS_3B, ORPHEUS_VOCAB, "Q4_K_M") == pytest.approx(2.36e9, rel=0.01)


def test_gemma_2_2b_has_its_2_61_billion_weights_with_tied_embeddings():
    assert GEMMA2_2B.parameters(GEMMA_VOCAB) == pytest.approx(2.61e9, rel=0.005)


def test_kv_cache_is_f16_k_and_v_of_every_layer_per_token():
    # Orpheus: 28 layers x 8 KV heads x 128 dims x (K + V) x 2 bytes = 112 KiB a token.
    assert ORPHEUS_3B.kv_bytes_per_token() == 28 * 8 * 128 * 2 * 2 == 114_688
    assert GEMMA2_2B.kv_bytes_per_token() == 26 * 4 * 256 * 2 * 2
    assert kv_cache_bytes(ORPHEUS_3B, streams=64, n_ctx=4096) == 114_688 * 64 * 4096
