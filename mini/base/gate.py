"""The gate a miniature base must pass before any RL: the planted search is rare, yet works when used.

On the held-out test split, scored by the real Countdown reward:
1. unforced greedy accuracy is low (at most GREEDY_MAX): the base does not already solve the task;
2. at temperature 1 the share of responses that search (start with `try`) lies in SEARCH_SHARE: the
   behaviour exists, at low frequency;
3. with the response forced to start with `try`, greedy accuracy is at least FORCED_MIN: the behaviour
   works in the model's hands. Without (3), GRPO suppresses search and gains by guessing better
   (../shared/MINI_NOTES.md, first probe).
The arithmetic of every `x op y = v` the forced responses write is checked too (reported, not gated).

    python -m mini.base --out models/mini-base      # prints the gate
"""

from __future__ import annotations

import os
import re

import torch

from evaluation.sample import decode
from launch.cpu_backend.sampling import Sampling
from rewards.registry import compute_score

GREEDY_MAX = 0.25
SEARCH_SHARE = (0.05, 0.40)
FORCED_MIN = 0.40
MAX_NEW_TOKENS = 224  # recipes/countdown-mini.yaml's response budget
SEARCH_WORD = "try"
_EQUATION = re.compile(r"(\d+) ([-+*/]) (\d+) = (\d+)")
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}


def load_split(path: str | os.PathLike) -> list[tuple[str, dict]]:
    """(prompt text, ground truth) of every row of a `mini`-template split."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["prompt", "reward_model"]).to_pylist()
    return [(row["prompt"][0]["content"], row["reward_model"]["ground_truth"]) for row in table]


def _complete(model, tokenizer, prompts: list[str], temperature: float, seed: int) -> list[str]:
    """Every prompt decoded in one batch by evaluation.sample's CPU sampler."""
    ids = [tokenizer(prompt)["input_ids"] for prompt in prompts]
    sampling = Sampling(max_tokens=MAX_NEW_TOKENS, temperature=temperature)
    generator = torch.Generator().manual_seed(seed)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    return decode(model, tokenizer, ids, sampling, generator, eos, pad, batch=None)


def accuracy(responses: list[str], truths: list[dict]) -> float:
    scores = [
        compute_score("countdown", response, truth, {"template": "mini"})["acc"]
        for response, truth in zip(responses, truths, strict=True)
    ]
    return sum(scores) / len(scores)


def arithmetic_right(responses: list[str]) -> tuple[int, int]:
    """(right, total) over the `x op y = v` equations the responses write."""
    right = total = 0
    for response in responses:
        for left, op, right_operand, value in _EQUATION.findall(response):
            total += 1
            right += _OPS[op](int(left), int(right_operand)) == int(value)
    return right, total


def load_gate_inputs(model_dir: str | os.PathLike, test_split: str | os.PathLike) -> tuple:
    """(model in eval mode, tokenizer, prompts, ground truths) of a base and its held-out split: what every
    miniature gate (this one, gate_long's, gate_lang's) starts from."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    rows = load_split(test_split)
    return model, tokenizer, [p for p, _ in rows], [t for _, t in rows]


def run_gate(model_dir: str | os.PathLike, test_split: str | os.PathLike, seed: int = 0) -> dict:
    """The gate's figures and verdict for the model in `model_dir`."""
    model, tokenizer, prompts, truths = load_gate_inputs(model_dir, test_split)
    greedy = _complete(model, tokenizer, prompts, 0.0, seed)
    sampled = _complete(model, tokenizer, prompts, 1.0, seed)
    forced = [
        f"{SEARCH_WORD} {c}"
        for c in _complete(model, tokenizer, [f"{p} {SEARCH_WORD}" for p in prompts], 0.0, seed)
    ]
    searching = [response.startswith(SEARCH_WORD + " ") for response in sampled]
    right, total = arithmetic_right(forced)
    figures = {
        "test_problems": len(prompts),
        "greedy_acc": round(accuracy(greedy, truths), 4),
        "greedy_search_share": round(sum(r.startswith(SEARCH_WORD + " ") for r in greedy) / len(prompts), 4),
        "sampled_acc": round(accuracy(sampled, truths), 4),
        "sampled_search_share": round(sum(searching) / len(prompts), 4),
        "forced_search_greedy_acc": round(accuracy(forced, truths), 4),
        "forced_equations_right": f"{right}/{total}",
        "mean_forced_tokens": round(sum(len(r.split()) for r in forced) / len(prompts), 1),
    }
    checks = {
        f"greedy_acc <= {GREEDY_MAX}": figures["greedy_acc"] <= GREEDY_MAX,
        f"{SEARCH_SHARE[0]} <= sampled_search_share <= {SEARCH_SHARE[1]}": SEARCH_SHARE[0]
        <= figures["sampled_search_share"]
        <= SEARCH_SHARE[1],
        f"forced_search_greedy_acc >= {FORCED_MIN}": figures["forced_search_greedy_acc"] >= FORCED_MIN,
    }
    return {**figures, "checks": checks, "passed": all(checks.values())}
