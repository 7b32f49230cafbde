import pytest

from coordinator.errors import ModelLoadError
from coordinator.orpheus.layout import AUDIO_TOKEN_BASE, CODEBOOK_SIZE, N_CUSTOM_TOKENS, custom_token_text
from coordinator.orpheus.vocab import OrpheusVocab

from .conftest import FAKE_OFFSET


def test_ids_are_looked_up_by_text_not_by_a_fixed_offset(fake_vocab):
    assert fake_vocab.bos == 1 and fake_vocab.eot == 2
    assert fake_vocab.start_of_human == FAKE_OFFSET + 3
    assert fake_vocab.start_of_speech == FAKE_OFFSET + 1
    assert fake_vocab.end_of_speech == FAKE_OFFSET + 2
    assert fake_vocab.slot_ids[0, 0] == FAKE_OFFSET + AUDIO_TOKEN_BASE
    assert fake_vocab.slot_ids[6, 4095] == FAKE_OFFSET + AUDIO_TOKEN_BASE + 6 * CODEBOOK_SIZE + 4095


def test_shuffled_custom_tokens_are_still_found():
    order = list(reversed(range(N_CUSTOM_TOKENS)))
    texts = ["<|begin_of_text|>", "<|eot_id|>"] + [custom_token_text(n) for n in order]
    vocab = OrpheusVocab.from_token_texts(texts)
    assert texts[vocab.slot_ids[3, 17]] == custom_token_text(AUDIO_TOKEN_BASE + 3 * CODEBOOK_SIZE + 17)
    assert texts[vocab.end_of_speech] == "<custom_token_2>"


def test_a_vocabulary_without_orpheus_tokens_is_refused_with_the_fix():
    with pytest.raises(ModelLoadError, match="lacks Orpheus tokens.*ORPHEUS_MODEL_PATH"):
        OrpheusVocab.from_token_texts(["<bos>", "<eos>", "hello"])


def test_a_vocabulary_missing_only_the_last_audio_token_is_refused():
    texts = ["<|begin_of_text|>", "<|eot_id|>"] + [custom_token_text(n) for n in range(N_CUSTOM_TOKENS - 1)]
    with pytest.raises(ModelLoadError, match=custom_token_text(N_CUSTOM_TOKENS - 1)):
        OrpheusVocab.from_token_texts(texts)
