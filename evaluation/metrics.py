"""Evaluation metrics over n sampled responses per prompt: mean@n, unbiased pass@k, maj@k (cons@k), rates.

Pure functions over already-scored samples (no model, no I/O), so they are exact and testable on CPU.

- pass@k is the unbiased estimator of Chen et al. (2021), 1 - C(n-c, k) / C(n, k) for c correct out of n,
  computed with exact integer binomials, so it is exact for any n (no float cancellation).
- maj@k (R1's cons@k) votes over the first k samples of a prompt, as lm-evaluation-harness's
  `take_first_k` + `majority_vote` does; samples are i.i.d., so the first k are an unbiased draw of k.
  A sample votes for its stripped `pred`; an empty pred is no vote. The most frequent pred wins; among
  tied preds the one whose first vote comes earliest in sample order wins. The prompt counts as solved
  when that earliest sample of the winning pred is correct; no vote at all counts as unsolved.

    python -m launch score GENERATIONS.parquet      # computes all of these from saved responses
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class ScoredSample:
    """One response's reward components, as `rewards.compute_score` returns them."""

    acc: bool
    pred: str
    formatted: bool
    response_chars: int
    has_verify: bool
    has_search: bool


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct) is correct."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n; got n={n}, c={c}, k={k}")
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


def majority_vote(preds: Sequence[str]) -> int | None:
    """Index of the sample whose pred wins the vote (see the module docstring), or None if no sample voted."""
    counts: dict[str, int] = {}
    first_index: dict[str, int] = {}
    for index, pred in enumerate(preds):
        answer = pred.strip()
        if not answer:
            continue
        counts[answer] = counts.get(answer, 0) + 1
        first_index.setdefault(answer, index)
    if not counts:
        return None
    winner = max(counts, key=lambda answer: (counts[answer], -first_index[answer]))
    return first_index[winner]


def maj_at_k(samples: Sequence[ScoredSample], k: int) -> bool:
    """Whether the majority answer of the first k samples is correct."""
    if not 1 <= k <= len(samples):
        raise ValueError(f"maj@k needs 1 <= k <= n; got k={k}, n={len(samples)}")
    winner = majority_vote([sample.pred for sample in samples[:k]])
    return winner is not None and samples[winner].acc


def k_values(n: int) -> list[int]:
    """1, 2, 4, ... up to n, and n itself."""
    powers = [2**i for i in range(n.bit_length()) if 2**i <= n]
    return powers if powers[-1] == n else [*powers, n]


def aggregate(
    per_prompt: Sequence[Sequence[ScoredSample]], greedy: Sequence[ScoredSample] | None = None
) -> dict:
    """The metrics JSON body for prompts that each have the same number n of sampled responses."""
    if not per_prompt:
        raise ValueError("no prompts to score")
    n = len(per_prompt[0])
    for row, samples in enumerate(per_prompt):
        if len(samples) != n or n == 0:
            raise ValueError(
                f"every prompt needs the same number n >= 1 of responses; row {row} has {len(samples)}"
            )
    flat = [sample for samples in per_prompt for sample in samples]
    ks = k_values(n)
    metrics: dict = {
        "n": n,
        "num_prompts": len(per_prompt),
        "mean@n": _mean(sample.acc for sample in flat),
        "pass@k": {
            str(k): _mean(pass_at_k(n, sum(s.acc for s in samples), k) for samples in per_prompt) for k in ks
        },
        "maj@k": {str(k): _mean(maj_at_k(samples, k) for samples in per_prompt) for k in ks},
        "format_rate": _mean(sample.formatted for sample in flat),
        "mean_response_length": _mean(sample.response_chars for sample in flat),
        "response_length_unit": "chars",
        "verification_rate": _mean(sample.has_verify for sample in flat),
        "search_rate": _mean(sample.has_search for sample in flat),
    }
    if greedy is not None:
        if len(greedy) != len(per_prompt):
            raise ValueError(f"greedy pass has {len(greedy)} prompts, the sampled pass {len(per_prompt)}")
        metrics["greedy_acc"] = _mean(sample.acc for sample in greedy)
        metrics["greedy_search_rate"] = _mean(sample.has_search for sample in greedy)
    return metrics


def sample_from_components(components: Mapping) -> ScoredSample:
    """A ScoredSample from the dict `rewards.compute_score` returns; a missing component is an error."""
    try:
        return ScoredSample(
            acc=bool(components["acc"]),
            pred=str(components["pred"] or ""),
            formatted=bool(components["format"]),
            response_chars=int(components["response_chars"]),
            has_verify=bool(components["has_verify"]),
            has_search=bool(components["has_search"]),
        )
    except KeyError as missing:
        raise ValueError(f"reward components lack {missing}; got keys {sorted(components)}") from None


def _mean(values) -> float:
    values = list(values)
    return sum(float(value) for value in values) / len(values)
