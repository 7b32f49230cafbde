"""The cloning prompt: its token ids equal the documented layout, written out here independently
with the tiny pretrained model's own token offsets (coordinator/orpheus/clone.py cites the layout)."""

import numpy as np
import pytest

from coordinator.engine.llama_model import LlamaModel
from coordinator.errors import InvalidCodesError
from coordinator.orpheus.clone import audio_token_ids, build_clone_prompt, clone_prefix, clone_prefix_length
from coordinator.orpheus.vocab import OrpheusVocab
from tests.rig.tiny_gguf import ORPHEUS_PT_CUSTOM_TOKEN_OFFSET as OFFSET

# Released Orpheus: <custom_token_N>; specials N = 1..6, audio code c at frame slot s is N = 10 + 4096 s + c.
START_OF_SPEECH, END_OF_SPEECH, START_OF_HUMAN, END_OF_HUMAN, START_OF_AI, END_OF_AI = (
    OFFSET + n for n in (1, 2, 3, 4, 5, 6)
)


def _audio(code: int, slot: int) -> int:
    return OFFSET + 10 + 4096 * slot + code


@pytest.fixture(scope="module")
def model(pretrained_gguf):
    with LlamaModel.load(pretrained_gguf, n_gpu_layers=0) as model:
        yield model


@pytest.fixture(scope="module")
def vocab(model):
    return OrpheusVocab.from_token_texts(model.token_texts())


def test_the_prompt_is_the_documented_layout_with_the_models_own_ids(model, vocab):
    texts = model.token_texts()
    bos, eot = texts.index("<|begin_of_text|>"), texts.index("<|eot_id|>")
    rng = np.random.default_rng(3)
    first, second = rng.integers(0, 4096, size=(3, 7)), rng.integers(0, 4096, size=(2, 7))
    first[0, 0], second[-1, -1] = 0, 4095
    t1, t2, target = model.tokenize("hello there"), model.tokenize("a second sample"), model.tokenize("speak")

    expected = []
    for transcript, frames in ((t1, first), (t2, second)):
        expected += [START_OF_HUMAN, bos, *transcript, eot, END_OF_HUMAN, START_OF_AI, START_OF_SPEECH]
        expected += [_audio(int(frames[f, s]), s) for f in range(len(frames)) for s in range(7)]
        expected += [END_OF_SPEECH, END_OF_AI]
    prefix_length = len(expected)
    expected += [START_OF_HUMAN, bos, *target, eot, END_OF_HUMAN, START_OF_AI, START_OF_SPEECH]

    references = [(t1, first), (t2, second)]
    assert build_clone_prompt(vocab, references, target) == expected
    assert clone_prefix(vocab, references) == expected[:prefix_length]
    assert clone_prefix_length(vocab, references) == prefix_length


def test_audio_tokens_are_seven_per_frame_and_refuse_bad_codes(vocab):
    frames = np.array([[0, 1, 2, 3, 4, 5, 4095]])
    assert audio_token_ids(vocab, frames) == [_audio(c, s) for s, c in enumerate(frames[0])]
    with pytest.raises(InvalidCodesError, match="outside"):
        audio_token_ids(vocab, np.array([[0, 0, 0, 0, 0, 0, 4096]]))
    with pytest.raises(InvalidCodesError, match="shape"):
        audio_token_ids(vocab, np.zeros((2, 6), dtype=np.int64))
