"""The language miniature's gate (recipes/countdown-mini-r1.yaml): the base mixes languages at a measurable
rate, and consistency has a price in its hands.

On the held-out test split, every response scored by the real Countdown reward, whose `lang_consistency` is
rewards/language.py's share of the chain of thought's words in English (target en):
- as gate.py: unforced greedy and sampled accuracy, the share of sampled responses that search (`try` or 试,
  rewards.behaviour);
- mixing: the share of sampled responses whose chain of thought is not all English (lang_consistency < 1)
  and the mean lang_consistency, with the accuracy of the mixed and of the consistent ones;
- the price of consistency, on searches forced to start (response forced to start with `try`, SAMPLES per
  problem at temperature 1, as the RL runs sample): the accuracy of the mixed forced searches against that of
  the English forced searches of two lines or more. A search that hits on its first line never mixes (the
  corpus switches after the first line), so the comparison leaves one-line searches out of both sides;
- the planted figures of the corpus on the same problems (PLANTED_DRAWS searches each, scored the same way):
  its mixing rate among searches and the same two accuracies.
Checks: greedy_acc <= GREEDY_MAX and the sampled search share in SEARCH_SHARE (the behaviour is rare, as
gate.py asks); the forced searches work (sampled accuracy >= FORCED_MIN); the sampled mixing rate lies in
MIXING_RATE (measurable, not the norm); and mixed forced searches beat English ones by at least PRICE_MIN
(consistency is not free).

    python -m mini.base --out results/countdown-mini-r1/base/mixed --prior mixed
"""

from __future__ import annotations

import os
import random
from statistics import mean

import torch

from evaluation.sample import decode
from launch.cpu_backend.sampling import Sampling
from mini.base import corpus_lang
from mini.base.gate import GREEDY_MAX, MAX_NEW_TOKENS, SEARCH_WORD, load_gate_inputs
from rewards.behaviour import count_search_steps
from rewards.registry import compute_score

SEARCH_SHARE = (0.05, 0.50)
FORCED_MIN = 0.40
MIXING_RATE = (0.05, 0.35)
PRICE_MIN = 0.05
SAMPLES = 4
PLANTED_DRAWS = 8


def complete(model, tokenizer, prompts: list[str], temperature: float, seed: int) -> list[str]:
    """Every prompt decoded by the CPU backend's batched sampler (evaluation.sample.decode)."""
    ids = [tokenizer(prompt)["input_ids"] for prompt in prompts]
    sampling = Sampling(max_tokens=MAX_NEW_TOKENS, temperature=temperature)
    generator = torch.Generator().manual_seed(seed)
    return decode(model, tokenizer, ids, sampling, generator, tokenizer.eos_token_id, tokenizer.pad_token_id)


def scored(responses: list[str], truths: list[dict]) -> list[dict]:
    """Per response: acc, lang_consistency (target en) and search lines."""
    rows = []
    for response, truth in zip(responses, truths, strict=True):
        reward = compute_score("countdown", response, truth, {"template": "mini"})
        rows.append(
            {
                "acc": reward["acc"],
                "lang": reward["lang_consistency"],
                "lines": count_search_steps(response),
            }
        )
    return rows


def rate(flags) -> float | None:
    """The share of true flags, rounded; None for no flags."""
    flags = list(flags)
    return round(sum(flags) / len(flags), 4) if flags else None


def accuracy_of(rows: list[dict]) -> float | None:
    return rate(row["acc"] == 1 for row in rows)


def price_figures(rows: list[dict]) -> dict:
    """Accuracy of mixed searches vs English searches of two lines or more, and their difference."""
    mixed = [row for row in rows if row["lang"] < 1]
    english = [row for row in rows if row["lang"] == 1 and row["lines"] >= 2]
    mixed_acc, english_acc = accuracy_of(mixed), accuracy_of(english)
    price = None if None in (mixed_acc, english_acc) else round(mixed_acc - english_acc, 4)
    return {
        "mixing_rate": rate(row["lang"] < 1 for row in rows),
        "acc_mixed": mixed_acc,
        "acc_english_2plus_lines": english_acc,
        "price_of_consistency": price,
        "counts": f"{len(mixed)} mixed, {len(english)} English of 2+ lines",
    }


def planted(truths: list[dict], mixture: corpus_lang.LangMixture, seed: int) -> list[dict]:
    """PLANTED_DRAWS corpus searches per problem (numbers in the order the prompt shows them), scored."""
    rng = random.Random(f"{seed}/planted")
    pairs = [
        (corpus_lang.search_response(tuple(t["numbers"]), int(t["target"]), rng, mixture), t)
        for t in truths
        for _ in range(PLANTED_DRAWS)
    ]
    return scored([response for response, _ in pairs], [truth for _, truth in pairs])


def run_gate(
    model_dir: str | os.PathLike,
    test_split: str | os.PathLike,
    mixture: corpus_lang.LangMixture,
    seed: int = 0,
) -> dict:
    """The gate's figures and verdict for the model in `model_dir`."""
    model, tokenizer, prompts, truths = load_gate_inputs(model_dir, test_split)
    greedy = scored(complete(model, tokenizer, prompts, 0.0, seed), truths)
    sampled = scored(complete(model, tokenizer, prompts, 1.0, seed), truths)
    forced_prompts = [f"{p} {SEARCH_WORD}" for p in prompts for _ in range(SAMPLES)]
    forced_truths = [t for t in truths for _ in range(SAMPLES)]
    forced = scored(
        [f"{SEARCH_WORD} {c}" for c in complete(model, tokenizer, forced_prompts, 1.0, seed)], forced_truths
    )
    forced_price, corpus_price = price_figures(forced), price_figures(planted(truths, mixture, seed))
    sampled_mixed = [row for row in sampled if row["lang"] < 1]
    sampled_consistent = [row for row in sampled if row["lang"] == 1]
    figures = {
        "test_problems": len(prompts),
        "greedy_acc": accuracy_of(greedy),
        "greedy_mixing_rate": rate(row["lang"] < 1 for row in greedy),
        "sampled_acc": accuracy_of(sampled),
        "sampled_search_share": rate(row["lines"] > 0 for row in sampled),
        "sampled_mixing_rate": rate(row["lang"] < 1 for row in sampled),
        "sampled_lang_consistency_mean": round(mean(row["lang"] for row in sampled), 4),
        "sampled_acc_mixed": accuracy_of(sampled_mixed),
        "sampled_acc_consistent": accuracy_of(sampled_consistent),
        "forced_search_samples": len(forced),
        "forced_search_sampled_acc": accuracy_of(forced),
        "forced_search_mean_lines": round(mean(row["lines"] for row in forced), 2),
        **{f"forced_{key}": value for key, value in forced_price.items()},
        **{f"planted_{key}": value for key, value in corpus_price.items()},
    }
    price = figures["forced_price_of_consistency"]
    checks = {
        f"greedy_acc <= {GREEDY_MAX}": figures["greedy_acc"] <= GREEDY_MAX,
        f"{SEARCH_SHARE[0]} <= sampled_search_share <= {SEARCH_SHARE[1]}": SEARCH_SHARE[0]
        <= figures["sampled_search_share"]
        <= SEARCH_SHARE[1],
        f"forced_search_sampled_acc >= {FORCED_MIN}": figures["forced_search_sampled_acc"] >= FORCED_MIN,
        f"{MIXING_RATE[0]} <= sampled_mixing_rate <= {MIXING_RATE[1]}": MIXING_RATE[0]
        <= figures["sampled_mixing_rate"]
        <= MIXING_RATE[1],
        f"forced_price_of_consistency >= {PRICE_MIN}": price is not None and price >= PRICE_MIN,
    }
    return {**figures, "checks": checks, "passed": all(checks.values())}
