import numpy as np
import pytest

from coordinator.engine.sampling import SamplingParams, TokenSampler, sample_batch
from coordinator.errors import GenerationError, InvalidInputError

VOCAB = 50


def _logits(seed=0):
    return np.random.default_rng(seed).normal(size=VOCAB).astype(np.float32)


def test_temperature_zero_is_greedy():
    logits = _logits()
    sampler = TokenSampler(SamplingParams(temperature=0.0), VOCAB, [0])
    assert sampler.sample(logits) == int(np.argmax(logits))


def test_top_k_one_is_greedy_at_any_temperature():
    logits = _logits(1)
    sampler = TokenSampler(SamplingParams(temperature=1.5, top_k=1, seed=3), VOCAB, [0])
    assert {sampler.sample(logits) for _ in range(20)} == {int(np.argmax(logits))}


def test_same_seed_same_tokens_and_different_seed_differs():
    logits = np.zeros(VOCAB, dtype=np.float32)

    def draw(seed):
        sampler = TokenSampler(SamplingParams(temperature=1.0, seed=seed), VOCAB, [0])
        return [sampler.sample(logits) for _ in range(30)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_only_candidates_are_ever_drawn():
    logits = _logits(2)
    logits[5] = 100.0  # the overall favourite is not a candidate
    candidates = np.array([10, 11, 12, 13])
    sampler = TokenSampler(SamplingParams(temperature=1.0, seed=0), VOCAB, [0])
    drawn = {sampler.sample(logits, candidates) for _ in range(200)}
    assert drawn <= set(candidates.tolist()) and len(drawn) > 1


def test_top_p_keeps_the_smallest_set_reaching_the_mass():
    logits = np.full(VOCAB, -50.0, dtype=np.float32)
    logits[[3, 4]] = [5.0, 4.0]  # ~73% / 27%: top_p 0.5 keeps only token 3
    sampler = TokenSampler(SamplingParams(temperature=1.0, top_p=0.5, seed=0), VOCAB, [0])
    assert {sampler.sample(logits) for _ in range(50)} == {3}


def test_repetition_penalty_pushes_seen_tokens_down():
    logits = np.zeros(VOCAB, dtype=np.float32)
    logits[[1, 2]] = [2.0, 1.9]
    sampler = TokenSampler(SamplingParams(temperature=0.0, repetition_penalty=1.3), VOCAB, prompt=[1])
    assert sampler.sample(logits) == 2  # 2.0 / 1.3 < 1.9
    assert sampler.sample(logits) == 1  # now 2 was seen too: 2.0/1.3 > 1.9/1.3


def test_logit_bias_applies_inside_the_candidate_set():
    logits = np.zeros(VOCAB, dtype=np.float32)
    sampler = TokenSampler(SamplingParams(temperature=1.0, seed=0, logit_bias={12: 100.0}), VOCAB, [0])
    assert sampler.sample(logits, np.array([10, 11, 12])) == 12


@pytest.mark.parametrize(
    "bad",
    [
        {"max_tokens": 0},
        {"temperature": -0.1},
        {"top_p": 0.0},
        {"top_k": -1},
        {"repetition_penalty": 0.0},
        {"seed": 2**64},
        {"seed": -(2**63) - 1},
    ],
)
def test_out_of_range_parameters_are_named(bad):
    (name,) = bad
    with pytest.raises(InvalidInputError, match=name) as info:
        SamplingParams(**bad)
    assert info.value.param == name


def test_logit_bias_outside_the_vocabulary_is_refused():
    with pytest.raises(InvalidInputError, match="logit_bias"):
        TokenSampler(SamplingParams(logit_bias={VOCAB: 1.0}), VOCAB, [0])


@pytest.mark.parametrize("top_p", [0.5, 0.8, 0.95])
def test_nucleus_sampling_draws_exactly_what_a_full_sort_draws(top_p):
    rng = np.random.default_rng(0)
    # Sharp, flat and tied distributions: few, most and all candidates are sorted.
    steps = [rng.standard_normal(4096) * scale for scale in (8.0, 0.05) for _ in range(100)]
    steps += [np.round(rng.standard_normal(4096)) for _ in range(50)]
    temperature = 0.6

    def full_sort(seed):
        """Textbook nucleus sampling: sort everything, keep the prefix reaching top_p, draw."""
        draws, generator = [], np.random.default_rng(seed)
        for logits in steps:
            scaled = (logits.astype(np.float32).astype(np.float64) - logits.max()) / temperature
            weights = np.exp(scaled)
            order = np.argsort(-scaled, kind="stable")
            cumulative = np.cumsum(weights[order])
            cut = min(int(np.searchsorted(cumulative, top_p * weights.sum())) + 1, len(order))
            limit = generator.random() * cumulative[cut - 1]
            draws.append(int(order[np.searchsorted(cumulative[:cut], limit, side="right")]))
        return draws

    sampler = TokenSampler(SamplingParams(temperature=temperature, top_p=top_p, seed=3), 4096, [])
    assert [sampler.sample(logits.astype(np.float32)) for logits in steps] == full_sort(3)


def _mixed_samplers(n_vocab):
    """One of each kind of request an engine step may hold, seeded."""
    params = [
        SamplingParams(temperature=0.6, top_p=0.8, repetition_penalty=1.3, seed=1),  # Orpheus
        SamplingParams(temperature=0.0),
        SamplingParams(temperature=1.2, top_k=5, seed=2),
        SamplingParams(temperature=0.9, seed=3, logit_bias={7: 5.0}),
        SamplingParams(temperature=0.4, top_p=0.95, seed=4),
        SamplingParams(temperature=0.6, top_p=0.8, repetition_penalty=1.3, seed=5),
    ]
    return [TokenSampler(p, n_vocab, prompt=[3, 7, 11]) for p in params]


def test_sampling_a_step_together_draws_what_each_sequence_draws_alone():
    n_vocab = 4096
    rng = np.random.default_rng(0)
    candidate_sets = [np.arange(0, 4096, 2), None, np.arange(100, 612), None, np.arange(1, 4096, 2), None]
    together, alone = _mixed_samplers(n_vocab), _mixed_samplers(n_vocab)
    for _ in range(60):
        logits = (rng.standard_normal((len(together), n_vocab)) * rng.choice([0.1, 3.0, 10.0])).astype(
            np.float32
        )
        batched = sample_batch(together, logits, candidate_sets)
        single = [s.sample(logits[i], candidate_sets[i]) for i, s in enumerate(alone)]
        assert batched == single
        for token, allowed in zip(batched, candidate_sets):
            assert allowed is None or token in allowed


def test_a_row_without_finite_logits_fails_alone():
    samplers = _mixed_samplers(VOCAB)[:2]
    logits = np.stack([np.full(VOCAB, np.nan, dtype=np.float32), _logits(4)])
    bad, good = sample_batch(samplers, logits, [None, None])
    assert isinstance(bad, GenerationError)
    assert good == int(np.argmax(_logits(4)))


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(temperature=1e-300, seed=0),
        SamplingParams(temperature=1e-300, top_p=0.5, seed=0),
        SamplingParams(temperature=2.0, repetition_penalty=1e-300, seed=0),
        SamplingParams(temperature=2.0, repetition_penalty=10.0, top_k=3, seed=0, logit_bias={1: -100.0}),
    ],
)
def test_extreme_parameters_still_draw_a_valid_token(params):
    logits = _logits(5) * 1e30
    sampler = TokenSampler(params, VOCAB, prompt=list(range(0, VOCAB, 3)))
    for _ in range(5):
        assert 0 <= sampler.sample(logits) < VOCAB


def test_a_tiny_temperature_is_as_good_as_greedy():
    logits = _logits(6)
    sampler = TokenSampler(SamplingParams(temperature=1e-300, seed=0), VOCAB, [0])
    assert sampler.sample(logits) == int(np.argmax(logits))


@pytest.mark.parametrize("seed", [-1, -(2**63), 0, 2**63, 2**64 - 1])
def test_every_64_bit_seed_is_accepted_and_reproducible(seed):
    def draw():
        sampler = TokenSampler(SamplingParams(temperature=1.0, seed=seed), VOCAB, [0])
        return [sampler.sample(_logits(4)) for _ in range(10)]

    assert draw() == draw()


def test_a_negative_seed_is_its_twos_complement():
    def draw(seed):
        sampler = TokenSampler(SamplingParams(temperature=1.0, seed=seed), VOCAB, [0])
        return [sampler.sample(_logits(4)) for _ in range(10)]

    assert draw(-1) == draw(2**64 - 1)


@pytest.mark.parametrize("temperature", [1e-300, 5e-324, 1e-30])
@pytest.mark.parametrize("top_p", [1.0, 0.9])
def test_a_vanishing_temperature_draws_the_best_token(temperature, top_p):
    logits = _logits(5)
    sampler = TokenSampler(SamplingParams(temperature=temperature, top_p=top_p, seed=1), VOCAB, [0])
    assert sampler.sample(logits) == int(np.argmax(logits))


@pytest.mark.parametrize("penalty", [5e-324, 1e-300, 10.0])
@pytest.mark.parametrize("temperature", [0.0, 1e-300, 1.0, 2.0])
def test_extreme_repetition_penalties_still_draw_a_candidate(penalty, temperature):
    logits = _logits(6) * 1000
    params = SamplingParams(temperature=temperature, repetition_penalty=penalty, top_p=0.9, seed=2)
    sampler = TokenSampler(params, VOCAB, list(range(0, VOCAB, 2)))
    candidates = np.arange(VOCAB // 2, VOCAB)
    for _ in range(5):
        assert sampler.sample(logits, candidates) in set(candidates.tolist())


def test_logits_that_are_all_non_finite_are_a_generation_error():
    from coordinator.errors import GenerationError

    sampler = TokenSampler(SamplingParams(seed=0), VOCAB, [0])
    with pytest.raises(GenerationError):
        sampler.sample(np.full(VOCAB, np.nan, dtype=np.float32))
