"""Sampling in numpy, for every sequence of an engine step at once: repetition penalty,
temperature, top-k, top-p and seeded draws.

Why not llama.cpp's sampler chain: Orpheus sampling is constrained to 4096 candidates of a ~156k
vocabulary at every step; llama.cpp's samplers always materialise the full vocabulary per call,
while here the work is proportional to the candidate set.

Why one call for all sequences: at 32-64 streams the engine thread samples every stream between
two decode steps, so per-sequence Python work adds up to as much as the step itself. Rows of the
same width are processed as one matrix; each row's draw depends only on its own logits, state and
random generator, so a sequence draws the same tokens whether it is sampled alone or with others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from coordinator.errors import GenerationError, InvalidInputError

GREEDY_TEMPERATURE = 0.0
MAX_TEMPERATURE = 2.0  # OpenAI's range
MAX_REPETITION_PENALTY = 10.0
# Seeds are 64-bit integers, as OpenAI's: a negative one is read as its two's complement, so
# every accepted seed means one RNG stream.
SEED_BITS = 64
MIN_SEED, MAX_SEED = -(2 ** (SEED_BITS - 1)), 2**SEED_BITS - 1
# The nucleus chat replies are sampled with, on every door that asks the chat model (/chat, the
# live voice session).
CHAT_TOP_P = 0.95
# Their temperature when the request names none: warm enough to sound natural, cool enough to
# stay on topic.
CHAT_TEMPERATURE = 0.7
# With top_p < 1, candidates lighter than (1 - top_p) / (NUCLEUS_MARGIN * candidates) of the total
# are never sorted (_nucleus_draw says why); the margin keeps float rounding from mattering.
NUCLEUS_MARGIN = 2.0
# Penalties and tiny temperatures may scale logits past float64's range; clipping keeps every
# weight a number (an overflow to inf would turn the softmax into NaN).
_FLOAT_MAX = float(np.finfo(np.float64).max)


@dataclass(frozen=True)
class SamplingParams:
    """What one request asks of the sampler. Validated on construction."""

    max_tokens: int = 256
    temperature: float = 0.6
    top_p: float = 1.0
    top_k: int = 0  # 0: no top-k cut
    repetition_penalty: float = 1.0  # HF/vLLM semantics: over prompt and generated tokens
    seed: int | None = None
    logit_bias: Mapping[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks = (
            ("max_tokens", self.max_tokens >= 1, "at least 1"),
            ("temperature", 0.0 <= self.temperature <= MAX_TEMPERATURE, f"between 0 and {MAX_TEMPERATURE:g}"),
            ("top_p", 0.0 < self.top_p <= 1.0, "in (0, 1]"),
            ("top_k", self.top_k >= 0, "0 (off) or positive"),
            (
                "repetition_penalty",
                0.0 < self.repetition_penalty <= MAX_REPETITION_PENALTY,
                f"in (0, {MAX_REPETITION_PENALTY:g}]",
            ),
            ("seed", self.seed is None or MIN_SEED <= self.seed <= MAX_SEED, "a 64-bit integer"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise InvalidInputError(
                    f"{name}={getattr(self, name)!r} is out of range: use a value {expected}", param=name
                )


def sampling_with(base: SamplingParams, **overrides: Any) -> SamplingParams:
    """``base`` with the overrides that are not None (a request's or the CLI's unset fields keep
    the defaults)."""
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


class TokenSampler:
    """One sequence's sampling state: its parameters, random generator and the tokens it has seen."""

    def __init__(self, params: SamplingParams, n_vocab: int, prompt: Sequence[int]) -> None:
        self.params = params
        self.rng = np.random.default_rng(None if params.seed is None else params.seed % 2**SEED_BITS)
        self.seen = np.zeros(n_vocab, dtype=bool)
        self.seen[np.asarray(prompt, dtype=np.int64)] = True
        self.bias: np.ndarray | None = None
        if params.logit_bias:
            bad = [t for t in params.logit_bias if not 0 <= t < n_vocab]
            if bad:
                raise InvalidInputError(
                    f"logit_bias names token {bad[0]}, outside this model's vocabulary 0..{n_vocab - 1}",
                    param="logit_bias",
                )
            self.bias = np.zeros(n_vocab, dtype=np.float64)
            for token, value in params.logit_bias.items():
                self.bias[token] = value

    def sample(self, logits: np.ndarray, candidates: np.ndarray | None = None) -> int:
        """Draw a token from ``logits`` (the full vocabulary), restricted to ``candidates`` if given."""
        result = sample_batch([self], logits[np.newaxis], [candidates])[0]
        if isinstance(result, GenerationError):
            raise result
        return result


def sample_batch(
    samplers: Sequence[TokenSampler],
    logits: np.ndarray,
    candidates: Sequence[np.ndarray | None],
) -> list[int | GenerationError]:
    """Draw one token for each sampler from its row of ``logits`` (rows x vocabulary), restricted
    to its ``candidates`` if given. A row that cannot be sampled gets a ``GenerationError`` in its
    place; the others are unaffected."""
    results: list[int | GenerationError] = [0] * len(samplers)
    groups: dict[int, list[int]] = {}
    for row, allowed in enumerate(candidates):
        groups.setdefault(logits.shape[1] if allowed is None else len(allowed), []).append(row)
    for rows in groups.values():
        if candidates[rows[0]] is None:
            index = np.broadcast_to(np.arange(logits.shape[1]), (len(rows), logits.shape[1]))
            x = logits[rows].astype(np.float64)
        else:
            index = np.stack([candidates[row] for row in rows])  # type: ignore[misc]
            x = logits[np.asarray(rows)[:, np.newaxis], index].astype(np.float64)
        drawn = _sample_rows([samplers[row] for row in rows], x, index)
        for position, (row, choice) in enumerate(zip(rows, drawn)):
            if not isinstance(choice, GenerationError):
                choice = int(index[position, choice])
                samplers[row].seen[choice] = True
            results[row] = choice
    return results


def _sample_rows(
    samplers: list[TokenSampler], x: np.ndarray, index: np.ndarray
) -> list[int | GenerationError]:
    """Column of each row's draw in ``x`` (rows x candidates, float64, modified in place)."""
    params = [s.params for s in samplers]
    for row, sampler in enumerate(samplers):
        if sampler.bias is not None:
            x[row] += sampler.bias[index[row]]
    penalty = np.array([p.repetition_penalty for p in params])[:, np.newaxis]
    penalised_rows = np.flatnonzero(penalty[:, 0] != 1.0)
    if len(penalised_rows):
        seen = np.stack([samplers[row].seen[index[row]] for row in penalised_rows])
        sub, factor = x[penalised_rows], penalty[penalised_rows]
        positive = sub > 0
        with np.errstate(over="ignore"):  # clipped below
            np.divide(sub, factor, out=sub, where=seen & positive)
            np.multiply(sub, factor, out=sub, where=seen & ~positive)
        x[penalised_rows] = sub
    usable = np.isfinite(x).any(axis=1)
    undefined = np.isnan(x)
    if undefined.any():
        x[undefined] = -np.inf
    np.clip(x, -_FLOAT_MAX, _FLOAT_MAX, out=x)
    x[~usable] = 0.0  # answered with an error below; zeros keep the arithmetic quiet

    temperature = np.array([p.temperature for p in params])
    greedy = temperature == GREEDY_TEMPERATURE
    # Shift first, then scale: every value is <= 0 and the best is exactly 0, so a tiny temperature
    # sends the others to -inf (weight 0) instead of overflowing.
    with np.errstate(over="ignore"):  # an overflow here is a weight of 0, as it should be
        x -= x.max(axis=1, keepdims=True)
        x /= np.where(greedy, 1.0, temperature)[:, np.newaxis]
    for row, p in enumerate(params):
        if 0 < p.top_k < x.shape[1]:
            kth = np.partition(x[row], x.shape[1] - p.top_k)[x.shape[1] - p.top_k]
            x[row, x[row] < kth] = -np.inf
    weights = np.exp(x)

    choices = np.zeros(len(samplers), dtype=np.int64)
    nucleus = np.array([p.top_p < 1.0 for p in params]) & ~greedy
    plain = np.flatnonzero(~nucleus & ~greedy)
    if len(plain):
        choices[plain] = _inverse_cdf(np.cumsum(weights[plain], axis=1), [samplers[int(r)] for r in plain])
    nucleus_rows = np.flatnonzero(nucleus)
    if len(nucleus_rows):
        choices[nucleus_rows] = _nucleus_draw(
            x[nucleus_rows], weights[nucleus_rows], [samplers[int(r)] for r in nucleus_rows]
        )
    choices[greedy] = np.argmax(x[greedy], axis=1)
    return [
        int(choice) if ok else GenerationError("the model produced no finite logits for the allowed tokens")
        for choice, ok in zip(choices, usable)
    ]


def _inverse_cdf(cumulative: np.ndarray, samplers: Sequence[TokenSampler]) -> np.ndarray:
    """Per row, the first column whose cumulative weight exceeds a uniform draw of the row's total."""
    u = np.array([s.rng.random() for s in samplers])
    limit = u * cumulative[:, -1]
    return (cumulative <= limit[:, np.newaxis]).sum(axis=1)


def _nucleus_draw(scaled: np.ndarray, weights: np.ndarray, samplers: Sequence[TokenSampler]) -> np.ndarray:
    """Per row, a draw from the smallest set of most likely candidates whose mass reaches top_p."""
    top_p = np.array([s.params.top_p for s in samplers])
    total = weights.sum(axis=1)
    target = top_p * total
    # Sorting all 4096 candidates for every token was most of the sampler's time. Candidates
    # lighter than `floor` hold at most half the mass outside the nucleus between them, so the
    # nucleus lies among the heavier ones, which come first in the full sort too: sorting those
    # alone draws exactly what the full sort draws, and there are few of them unless the
    # distribution is flat.
    floor = (1.0 - top_p) * total / (NUCLEUS_MARGIN * weights.shape[1])
    heavy = weights >= floor[:, np.newaxis]
    choices = np.zeros(len(samplers), dtype=np.int64)
    for row, sampler in enumerate(samplers):
        candidates = np.flatnonzero(heavy[row])
        order = candidates[np.argsort(-scaled[row, candidates], kind="stable")]
        cumulative = np.cumsum(weights[row, order])
        # The prefix ends at the first candidate that brings the mass to the target (at least one).
        cut = min(int(np.searchsorted(cumulative, target[row])) + 1, len(cumulative))
        choices[row] = order[_inverse_cdf(cumulative[np.newaxis, :cut], [sampler])[0]]
    return choices
