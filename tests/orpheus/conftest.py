import pytest

from coordinator.orpheus.layout import N_CUSTOM_TOKENS, custom_token_text
from coordinator.orpheus.vocab import OrpheusVocab

FAKE_OFFSET = 300


@pytest.fixture(scope="session")
def fake_vocab() -> OrpheusVocab:
    """A vocabulary table (no model): specials first, custom tokens at an odd offset."""
    texts = ["<unk>", "<|begin_of_text|>", "<|eot_id|>"] + [f"w{i}" for i in range(FAKE_OFFSET - 3)]
    texts += [custom_token_text(n) for n in range(N_CUSTOM_TOKENS)]
    return OrpheusVocab.from_token_texts(texts)
