"""The long miniature's gate (recipes/countdown-mini-long.yaml): how long the base searches, how well, how well
it would if it never gave up, and how often it catches a slip.

On the held-out test split, scored by the real Countdown reward, as gate.py (unforced greedy and sampled
accuracy, share of sampled responses that search), and beside it:
- search lines: the number of lines (`try`) of the base's forced searches (response forced to start with
  `try`), greedy and sampled (SAMPLES per problem), as a histogram and a mean, with their accuracy: the
  base's forced-search accuracy at the length it searches;
- exhaustive search: the forced greedy search made to go on wherever it gives up (`guess` replaced by `try`,
  again and again) until it hits, has written as many lines as the problem has first steps, or reaches the
  response budget: the ceiling longer thinking can reach in this base's hands;
- the planted figures of its corpus on the same problems (PLANTED_DRAWS traces each, scored the same way):
  accuracy, mean lines, share of searches with a self-correction;
- self-corrections (rewards.behaviour) observed in the sampled forced searches, beside the planted share.
Checks: greedy_acc <= GREEDY_MAX and the sampled search share in SEARCH_SHARE (gate.py's); the sampled forced
search works (>= FORCED_MIN); exhaustive search beats it by HEADROOM_MIN (room for RL to grow beyond the
plant); and the base writes self-corrections. The `short` control fails the last two by design.

    python -m mini.base --out results/countdown-mini-long/base/long --prior long
"""

from __future__ import annotations

import os
import random
from collections import Counter

import torch

from launch.cpu_backend.sampling import Sampling, generate_batch
from mini.base import corpus, corpus_long
from mini.base.gate import (
    GREEDY_MAX,
    SEARCH_SHARE,
    SEARCH_WORD,
    accuracy,
    arithmetic_right,
    load_gate_inputs,
)
from rewards.behaviour import count_search_steps, count_self_corrections

# recipes/countdown-mini-long.yaml's response budget: the longest trace the corpus can write
# (longest_search_tokens: 469 tokens with <eos>), rounded up to a multiple of 8.
MAX_NEW_TOKENS = 472
FORCED_MIN = 0.25
HEADROOM_MIN = 0.20
SAMPLES = 4
PLANTED_DRAWS = 8
GIVE_UP_WORD = "guess"


def longest_search_tokens(problems: list[tuple[tuple[int, ...], int]]) -> int:
    """An upper bound on the tokens of any response corpus_long writes, <eos> included: every first step's
    line, one correction, then the longer ending (verification and answer)."""
    step = corpus.Step(18, "+", 8, 26)
    correction = len(f"{corpus_long.CORRECTION_WORD} {corpus_long.judged_text(step, 10)}".split())
    expression = "( 9 * 2 ) - 8"  # every route's expression has 7 tokens
    verification = len(f"verify {expression} = 10".split())
    answer = len(corpus_long.answer(expression).split())
    longest = max(
        sum(
            len(f"try {first.text()}".split()) + 8 * len(corpus.combine(first.value, rest))
            for first, rest in steps
        )
        for steps in (corpus.first_steps(numbers) for numbers, _ in problems)
    )
    return longest + correction + verification + answer + 1


def complete(
    model, tokenizer, prompts: list[str], temperature: float, seed: int, budgets: list[int] | None = None
) -> list[str]:
    """Every prompt decoded in one batch by the CPU backend's sampler (as evaluation.sample.decode does), each
    within its budget of new tokens (default MAX_NEW_TOKENS), special tokens skipped."""
    ids = [tokenizer(prompt)["input_ids"] for prompt in prompts]
    samplings = [
        Sampling(max_tokens=budget, temperature=temperature)
        for budget in budgets or [MAX_NEW_TOKENS] * len(ids)
    ]
    completions = generate_batch(
        model,
        ids,
        samplings,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        generator=torch.Generator().manual_seed(seed),
    )
    return [tokenizer.decode(completion.token_ids, skip_special_tokens=True) for completion in completions]


def exhaustive(model, tokenizer, prompts: list[str], truths: list[dict], seed: int) -> list[str]:
    """Forced greedy searches that go on wherever they give up (see the module docstring)."""
    responses = [
        f"{SEARCH_WORD} {c}"
        for c in complete(model, tokenizer, [f"{p} {SEARCH_WORD}" for p in prompts], 0.0, seed)
    ]
    limits = [len(corpus.first_steps(tuple(truth["numbers"]))) for truth in truths]
    for _ in range(corpus_long.MAX_FIRST_STEPS):
        todo = []
        for index, response in enumerate(responses):
            words = response.split()
            if GIVE_UP_WORD in words and count_search_steps(response) < limits[index]:
                words = [*words[: words.index(GIVE_UP_WORD)], SEARCH_WORD]
                if len(words) < MAX_NEW_TOKENS:
                    todo.append((index, " ".join(words)))
        if not todo:
            break
        # One token per word: what is left of the response budget after the prefix.
        budgets = [MAX_NEW_TOKENS - len(prefix.split()) for _, prefix in todo]
        continued = complete(
            model, tokenizer, [f"{prompts[i]} {prefix}" for i, prefix in todo], 0.0, seed, budgets
        )
        for (index, prefix), rest in zip(todo, continued, strict=True):
            responses[index] = f"{prefix} {rest}"
    return responses


def line_counts(responses: list[str]) -> dict[str, int]:
    """How many responses wrote each number of search lines, as JSON keys in order."""
    counts = Counter(count_search_steps(response) for response in responses)
    return {str(lines): counts[lines] for lines in sorted(counts)}


def mean_lines(responses: list[str]) -> float:
    return round(sum(map(count_search_steps, responses)) / len(responses), 2)


def share(flags) -> float:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4)


def planted(truths: list[dict], mixture: corpus_long.Mixture, seed: int) -> tuple[list[str], list[dict]]:
    """PLANTED_DRAWS search traces of the corpus per problem (numbers in the order the prompt shows them)."""
    rng = random.Random(f"{seed}/planted")
    pairs = [
        (corpus_long.search_response(tuple(t["numbers"]), int(t["target"]), rng, mixture), t)
        for t in truths
        for _ in range(PLANTED_DRAWS)
    ]
    return [response for response, _ in pairs], [truth for _, truth in pairs]


def run_gate(
    model_dir: str | os.PathLike, test_split: str | os.PathLike, mixture: corpus_long.Mixture, seed: int = 0
) -> dict:
    """The gate's figures and verdict for the long-miniature base in `model_dir`, pre-trained on `mixture`."""
    model, tokenizer, prompts, truths = load_gate_inputs(model_dir, test_split)
    forced_prompts = [f"{p} {SEARCH_WORD}" for p in prompts]
    greedy = complete(model, tokenizer, prompts, 0.0, seed)
    sampled = complete(model, tokenizer, prompts, 1.0, seed)
    forced = [f"{SEARCH_WORD} {c}" for c in complete(model, tokenizer, forced_prompts, 0.0, seed)]
    repeated = [p for p in forced_prompts for _ in range(SAMPLES)]
    repeated_truths = [t for t in truths for _ in range(SAMPLES)]
    forced_sampled = [f"{SEARCH_WORD} {c}" for c in complete(model, tokenizer, repeated, 1.0, seed)]
    exhaustive_responses = exhaustive(model, tokenizer, prompts, truths, seed)
    planted_responses, planted_truths = planted(truths, mixture, seed)
    right, total = arithmetic_right(forced_sampled)
    figures = {
        "test_problems": len(prompts),
        "greedy_acc": round(accuracy(greedy, truths), 4),
        "greedy_search_share": share(r.startswith(SEARCH_WORD + " ") for r in greedy),
        "sampled_acc": round(accuracy(sampled, truths), 4),
        "sampled_search_share": share(r.startswith(SEARCH_WORD + " ") for r in sampled),
        "forced_search_greedy_acc": round(accuracy(forced, truths), 4),
        "forced_search_greedy_mean_lines": mean_lines(forced),
        "forced_search_greedy_lines": line_counts(forced),
        f"forced_search_sampled_acc ({SAMPLES} per problem)": round(
            accuracy(forced_sampled, repeated_truths), 4
        ),
        "forced_search_sampled_mean_lines": mean_lines(forced_sampled),
        "forced_search_sampled_lines": line_counts(forced_sampled),
        "exhaustive_search_acc": round(accuracy(exhaustive_responses, truths), 4),
        "exhaustive_search_mean_lines": mean_lines(exhaustive_responses),
        "exhaustive_search_lines": line_counts(exhaustive_responses),
        f"planted_search_acc ({PLANTED_DRAWS} per problem)": round(
            accuracy(planted_responses, planted_truths), 4
        ),
        "planted_search_mean_lines": mean_lines(planted_responses),
        "planted_search_lines": line_counts(planted_responses),
        "planted_self_correct_share": share(count_self_corrections(r) > 0 for r in planted_responses),
        "forced_search_sampled_self_correct_share": share(
            count_self_corrections(r) > 0 for r in forced_sampled
        ),
        "sampled_self_correct_share": share(count_self_corrections(r) > 0 for r in sampled),
        "forced_sampled_equations_right": f"{right}/{total}",
        "mean_forced_sampled_tokens": round(
            sum(len(r.split()) for r in forced_sampled) / len(forced_sampled), 1
        ),
    }
    sampled_acc = figures[f"forced_search_sampled_acc ({SAMPLES} per problem)"]
    checks = {
        f"greedy_acc <= {GREEDY_MAX}": figures["greedy_acc"] <= GREEDY_MAX,
        f"{SEARCH_SHARE[0]} <= sampled_search_share <= {SEARCH_SHARE[1]}": SEARCH_SHARE[0]
        <= figures["sampled_search_share"]
        <= SEARCH_SHARE[1],
        f"forced_search_sampled_acc >= {FORCED_MIN}": sampled_acc >= FORCED_MIN,
        f"exhaustive_search_acc >= forced_search_sampled_acc + {HEADROOM_MIN}": figures[
            "exhaustive_search_acc"
        ]
        >= sampled_acc + HEADROOM_MIN,
        "forced_search_sampled_self_correct_share > 0": figures["forced_search_sampled_self_correct_share"]
        > 0,
    }
    return {**figures, "checks": checks, "passed": all(checks.values())}
