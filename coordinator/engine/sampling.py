"""Per-sequence sampling in numpy: repetition penalty, temperature, top-k, top-p, seeded draws.

Why not llama.cpp's sampler chain: Orpheus sampling is constrained to 4096 candidates of a ~156k
vocabulary at every step; llama.cpp's samplers always materialise the full vocabulary per call,
while here the work is proportional to the candidate set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from coordinator.errors import GenerationError, InvalidInputError

GREEDY_TEMPERATURE = 0.0
MAX_TEMPERATURE = 2.0  # OpenAI's range
MAX_REPETITION_PENALTY = 10.0
# Candidates sorted first when sampling with top_p < 1 (the nucleus is looked for among them).
NUCLEUS_PREFILTER = 128
# Seeds are 64-bit integers, as OpenAI's: a negative one is read as its two's complement, so
# every accepted seed means one RNG stream.
SEED_BITS = 64
MIN_SEED, MAX_SEED = -(2 ** (SEED_BITS - 1)), 2**SEED_BITS - 1
# A penalised or bias-shifted logit may overflow to infinity (a tiny repetition_penalty divides by
# it): clamp to the largest finite float so that the softmax below never computes inf - inf.
MAX_LOGIT = float(np.finfo(np.float64).max)


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


class TokenSampler:
    """Samples the next token of one sequence; owns that sequence's RNG and penalty state."""

    def __init__(self, params: SamplingParams, n_vocab: int, prompt: Sequence[int]) -> None:
        self._params = params
        seed = None if params.seed is None else params.seed % 2**SEED_BITS
        self._rng = np.random.default_rng(seed)
        self._seen = np.zeros(n_vocab, dtype=bool)
        self._seen[np.asarray(prompt, dtype=np.int64)] = True
        self._bias: np.ndarray | None = None
        if params.logit_bias:
            bad = [t for t in params.logit_bias if not 0 <= t < n_vocab]
            if bad:
                raise InvalidInputError(
                    f"logit_bias names token {bad[0]}, outside this model's vocabulary 0..{n_vocab - 1}",
                    param="logit_bias",
                )
            self._bias = np.zeros(n_vocab, dtype=np.float64)
            for token, value in params.logit_bias.items():
                self._bias[token] = value

    def sample(self, logits: np.ndarray, candidates: np.ndarray | None = None) -> int:
        """Draw a token from ``logits`` (the full vocabulary), restricted to ``candidates`` if given."""
        params = self._params
        if candidates is None:
            x = logits.astype(np.float64, copy=True)
            seen = self._seen
            bias = self._bias
        else:
            x = logits[candidates].astype(np.float64)
            seen = self._seen[candidates]
            bias = None if self._bias is None else self._bias[candidates]
        with np.errstate(over="ignore", invalid="ignore"):
            if bias is not None:
                x += bias
            if params.repetition_penalty != 1.0:
                penalised = np.where(x > 0, x / params.repetition_penalty, x * params.repetition_penalty)
                x = np.where(seen, penalised, x)
            # NaN (inf - inf, or a NaN logit) can never be drawn.
            x = np.nan_to_num(x, nan=-np.inf, posinf=MAX_LOGIT, neginf=-np.inf)
            if not np.isfinite(x).any():
                raise GenerationError("the model produced no finite logits for the allowed tokens")
            if params.temperature == GREEDY_TEMPERATURE:
                choice = int(np.argmax(x))
            else:
                # Shift before scaling: a tiny temperature then sends the others to -inf (weight
                # 0) instead of sending the best to +inf (and the softmax to NaN).
                choice = self._draw((x - x.max()) / params.temperature)
        token = int(choice if candidates is None else candidates[choice])
        self._seen[token] = True
        return token

    def _draw(self, scaled: np.ndarray) -> int:
        params = self._params
        index = np.arange(len(scaled))
        if 0 < params.top_k < len(scaled):
            keep = np.argpartition(-scaled, params.top_k - 1)[: params.top_k]
            scaled, index = scaled[keep], index[keep]
        total_weight = None
        if params.top_p < 1.0 and len(scaled) > NUCLEUS_PREFILTER:
            # Sorting all 4096 candidates for every token was most of the sampler's time; the
            # nucleus nearly always lies among the few most likely, so sort those alone whenever
            # their mass already reaches top_p. The draw is the same as with the full sort.
            weights = np.exp(scaled - scaled.max())
            head = np.sort(np.argpartition(-scaled, NUCLEUS_PREFILTER - 1)[:NUCLEUS_PREFILTER])
            if weights[head].sum() >= params.top_p * weights.sum():
                total_weight = float(weights.sum())
                scaled, index = scaled[head], index[head]
        order = np.argsort(-scaled, kind="stable")
        scaled, index = scaled[order], index[order]
        probs = np.exp(scaled - scaled[0])
        probs /= probs.sum() if total_weight is None else total_weight
        if params.top_p < 1.0:
            # Keep the smallest prefix whose mass reaches top_p (always at least one token).
            cut = int(np.searchsorted(np.cumsum(probs), params.top_p)) + 1
            probs, index = probs[:cut], index[:cut]
            probs /= probs.sum()
        return int(index[self._rng.choice(len(probs), p=probs)])
