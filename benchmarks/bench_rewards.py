"""Reward scoring cost as ratios measured in one run, and what a step of 2,048 responses spends on it.

An absolute rate on a shared machine says more about the machine than the code, so every figure here is
paired with a reference timed in the same run over the same inputs:
- Countdown: compute_score against a plain scorer (regex for the last answer block, the numbers used, an
  exact `ast` walk; none of compute_score's format gates, behaviour counters or bounds), on synthetic but
  rollout-shaped responses (about 1 KB of reasoning with some "wait"/"let me check", then `</think>
  <answer>...</answer>`; correct, wrong, invalid and unanswered);
- math: compute_score (screen, helper process, pipe, deadline) against math_check.check called in this
  process (math-verify alone), on a realistic mix: each response answers with a real gold answer of
  GSM8K, MATH, MATH-500 or AIME (tests/rewards/fixtures/gold_answers.json), half the time its own
  reference, half the time another one; checks/s per helper is the one-thread figure;
- hostile inputs (Countdown's, math's and the language count's worst) must score in under 50 ms, and a
  check that hangs must return within math_timeout_s + 0.2 s.
A step's reward cost is reported in core-seconds for 2,048 responses and, with `--step-s` (a run's
`timing_s/step` from metrics.jsonl), as a share of the step.

    PYTHONPATH=. python benchmarks/bench_rewards.py    # full run (a few minutes on a loaded 2-core machine)
    PYTHONPATH=. python benchmarks/bench_rewards.py --countdown 5000 --math 100 --check  # exit 1 on a miss
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import operator
import os
import random
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

from rewards import compute_score
from rewards.math_check import check
from rewards.math_pool import MAX_HELPERS

HOSTILE_LIMIT_MS = 50.0
DEADLINE_SLACK_S = 0.2
STEP_RESPONSES = 2048  # 256 prompts x 8 samples, as the Countdown recipes run
NUMBERS = [3, 7, 25, 50]
GROUND_TRUTH = {"target": 100, "numbers": NUMBERS}
EXTRA_INFO = {"split": "test", "index": 0, "template": "base"}
REWARD_KWARGS = {"format_score": 0.1, "strict_format": False}  # as a recipe passes them
GOLD_ANSWERS = Path(__file__).resolve().parents[1] / "tests" / "rewards" / "fixtures" / "gold_answers.json"
MATH_SOURCES = {"gsm8k": "gsm8k", "math": "math", "math500": "math500", "aime24": "aime24"}
MATH_MODES = {"gsm8k": "number", "math": "latex", "math500": "latex", "aime24": "latex"}


def countdown_response(rng: random.Random) -> str:
    """About 1 KB of plausible reasoning and one of: correct, wrong, invalid or missing answer."""
    steps = []
    while sum(len(step) for step in steps) < 900:
        a, b = rng.sample(NUMBERS, 2)
        op = rng.choice("+-*")
        value = {"+": a + b, "-": a - b, "*": a * b}[op]
        steps.append(f"Let me try {a} {op} {b} = {value}. That leaves the other numbers to reach 100. ")
        if rng.random() < 0.15:
            steps.append("Wait, that does not work. Let me check another combination. ")
    # correct, wrong value, wrong numbers, invalid, no answer
    answer = rng.choice(["(50 - 25) * (7 - 3)", "50 + 25 + 7 * 3", "(50 - 25) * 3 + 7", "50 ** 2", None])
    tail = f" </think>\n<answer> {answer} </answer>" if answer else " </think> I could not find it."
    return "".join(steps) + tail


_LAST_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_PLAIN_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _plain_value(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _PLAIN_OPERATORS:
        return _PLAIN_OPERATORS[type(node.op)](_plain_value(node.left), _plain_value(node.right))
    raise ValueError("not + - * / over integers")


def plain_countdown_score(response: str) -> float:
    """The reference: the least a Countdown scorer does (1 correct, 0.1 answered, 0 no answer block)."""
    answers = _LAST_ANSWER.findall(response)
    if not answers:
        return 0.0
    equation = answers[-1].strip()
    if sorted(int(number) for number in re.findall(r"\d+", equation)) != sorted(NUMBERS):
        return 0.1
    try:
        return 1.0 if _plain_value(ast.parse(equation, mode="eval").body) == GROUND_TRUTH["target"] else 0.1
    except (SyntaxError, ValueError, ZeroDivisionError):
        return 0.1


def hostile_corpus() -> dict[str, str]:
    """The worst inputs of the test suite, labelled."""
    near_cap = 250_000  # just under rewards.registry.MAX_RESPONSE_CHARS: read in full
    return {
        "1 MB of '<answer>'": "<answer>" * 131_072,
        "250 KB of '<answer>'": "<answer>" * (near_cap // 8),
        "250 KB of '</think><answer>'": "</think><answer>" * (near_cap // 16),
        "250 KB of 'wait '": "wait " * (near_cap // 5),
        "250 KB text, answer at end": "x" * near_cap + "</think><answer>(50 - 25) * (7 - 3)</answer>",
        "1 MB text, answer at end": "x" * 10**6 + "</think><answer>(50 - 25) * (7 - 3)</answer>",
        "2 MB of 'wait '": "wait " * 400_000,
        "9**9**9": " r </think> <answer>9**9**9</answer>",
        "10^6-term sum": " r </think> <answer>" + "1+" * 10**6 + "1</answer>",
        "10^6 nested parens": " r </think> <answer>" + "(" * 10**6 + "1" + ")" * 10**6 + "</answer>",
        "127 nested operations": " r </think> <answer>" + "1+" * 127 + "1</answer>",
        "huge product": " r </think> <answer>" + "*".join(["999999999999"] * 19) + "</answer>",
        "injection": " r </think> <answer>__import__('os').system('true')</answer>",
        "200k answer blocks": " r </think> " + "<answer>1</answer>" * 200_000,
        "unclosed boxed braces": "\\boxed{" + "{" * 10**6,
        # rewards/language.py reads the whole chain of thought of every response up to the cap
        "250 KB of Latin and Han words": "ok 想 " * (near_cap // 5),
        "250 KB of combining marks": "a" + "\u0301" * near_cap,
        "250 KB of joined letters": "a'" * (near_cap // 2),
        "250 KB of LaTeX commands": "\\ab" * (near_cap // 3),
        "250 KB spread over Unicode": "".join(chr(i * 4507 % 0x110000) for i in range(near_cap)),
    }


def paired_seconds(ours, reference, items: list, runs: int, block: int) -> tuple[float, float]:
    """Seconds of `ours` and of `reference` over items, timed in alternating blocks so that a change in
    the machine's load falls on both; the faster of `runs` passes each (load only ever adds time)."""
    ours_runs, reference_runs = [], []
    for _ in range(runs):
        totals = [0.0, 0.0]
        for start in range(0, len(items), block):
            for slot, function in enumerate((ours, reference)):
                started = time.perf_counter()
                for item in items[start : start + block]:
                    function(item)
                totals[slot] += time.perf_counter() - started
        ours_runs.append(totals[0])
        reference_runs.append(totals[1])
    return min(ours_runs), min(reference_runs)


def bench_countdown(count: int) -> float:
    """Seconds per response of compute_score; prints its ratio to the plain reference."""
    rng = random.Random(0)
    responses = [countdown_response(rng) for _ in range(count)]
    ours = [
        compute_score("countdown", r, GROUND_TRUTH, EXTRA_INFO, **REWARD_KWARGS)["score"] for r in responses
    ]
    agree = statistics.mean(a == b for a, b in zip(ours, map(plain_countdown_score, responses), strict=True))
    mean_chars = statistics.mean(len(r) for r in responses)
    ours_s, plain_s = paired_seconds(
        lambda r: compute_score("countdown", r, GROUND_TRUTH, EXTRA_INFO, **REWARD_KWARGS),
        plain_countdown_score,
        responses,
        runs=3,
        block=500,
    )
    per_response = ours_s / count
    print(
        f"countdown: {count} responses of {mean_chars:.0f} chars; compute_score costs {ours_s / plain_s:.2f}x "
        f"the plain scorer over the same responses (scores agree on {agree:.0%}); a step of "
        f"{STEP_RESPONSES} responses: {STEP_RESPONSES * per_response * 1e3:.0f} ms of one core here "
        f"(plain scorer {STEP_RESPONSES * plain_s / count * 1e3:.0f} ms)"
    )
    return per_response


def bench_hostile() -> float:
    worst_ms = 0.0
    for label, response in hostile_corpus().items():
        elapsed_ms = 0.0
        for template in ("base", "instruct", "boxed", None):
            started = time.perf_counter()
            compute_score("countdown", response, GROUND_TRUTH, {"template": template})
            elapsed_ms = max(elapsed_ms, (time.perf_counter() - started) * 1e3)
        print(f"  hostile {label:<28} {elapsed_ms:7.2f} ms")
        worst_ms = max(worst_ms, elapsed_ms)
    print(f"hostile: worst case {worst_ms:.2f} ms (limit {HOSTILE_LIMIT_MS:.0f} ms)")
    return worst_ms


MATH_HOSTILE = {
    "power tower": "10^{10^{10^{10}}}",
    "factorial": "(10^{10})!",
    "frac 40 deep": "\\frac{1}{" * 40 + "2" + "}" * 40,
    "200 KB answer": "x" * 200_000,  # a 1 MB response is over the registry's cap: rejected unread
    "macro": "\\def\\a{\\a\\a}\\a",
}


def bench_math_hostile() -> float:
    worst_ms = 0.0
    for label, answer in MATH_HOSTILE.items():
        started = time.perf_counter()
        result = compute_score(
            "math", f"<think>r</think><answer>{answer}</answer>", "1", {"template": "instruct"}
        )
        elapsed_ms = (time.perf_counter() - started) * 1e3
        print(f"  hostile math {label:<23} {elapsed_ms:7.2f} ms  refused={result['refused'] or '-'}")
        worst_ms = max(worst_ms, elapsed_ms)
    return worst_ms


def math_rows(count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(data source, response, reference): a real gold answer, its own reference half the time."""
    gold = json.loads(GOLD_ANSWERS.read_text())
    rows = []
    for _ in range(count):
        name = rng.choice(list(MATH_SOURCES))
        reference = rng.choice(gold[name])
        answer = reference if rng.random() < 0.5 else rng.choice(gold[name])
        response = f"<think>work</think> <answer>{answer}</answer>"
        rows.append((name, response, reference))
    return rows


def bench_math(count: int, threads: int, timeout_s: float) -> tuple[float, float]:
    """(seconds per check from one thread, seconds the hanging check overran its deadline)."""
    rng = random.Random(0)
    rows, more = math_rows(count, rng), math_rows(count, rng)

    def score(row):
        name, response, reference = row
        return compute_score(MATH_SOURCES[name], response, reference, {"template": "instruct"})

    def in_process(row):
        name, response, reference = row
        return check(reference, response.split("<answer>")[1].split("</answer>")[0], MATH_MODES[name])

    started = time.perf_counter()
    score(rows[0])  # starts the first helper process
    print(f"math: first call (starts a helper) {time.perf_counter() - started:.2f} s")
    for row in rows:
        in_process(row)  # warm this process's caches like the helper's
    ours_s, plain_s = paired_seconds(score, in_process, rows, runs=2, block=10)
    correct = sum(score(row)["acc"] for row in rows)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(score, rows[: threads * 2]))  # start the other helpers outside the timing
        started = time.perf_counter()
        list(pool.map(score, more))
        parallel_s = time.perf_counter() - started
    per_check = ours_s / count
    print(
        f"math: {count} checks of real gold answers ({correct} correct); {count / ours_s:,.0f} checks/s per "
        f"helper, {ours_s / plain_s:.2f}x math-verify called in-process; {count / parallel_s:,.0f} checks/s "
        f"from {threads} threads ({os.cpu_count()} cpus); a step of {STEP_RESPONSES} responses: "
        f"{STEP_RESPONSES * per_check:.1f} s from one thread, {STEP_RESPONSES * parallel_s / count:.1f} s from "
        f"{threads}"
    )
    hangs = "\\boxed{(9999!)^{9999}}"  # within every bound of the screen; sympy builds 356M digits
    started = time.perf_counter()
    hung = compute_score("math", hangs, "1", {"template": "boxed"}, math_timeout_s=timeout_s)
    overrun = time.perf_counter() - started - timeout_s
    print(
        f"math: an answer that hangs returned {overrun:+.3f} s after its {timeout_s:g} s deadline "
        f"(timed_out={hung['timed_out']}; bound +{DEADLINE_SLACK_S} s)"
    )
    return per_check, overrun


def print_step_share(countdown_s: float, math_s: float | None, step_s: float) -> None:
    for label, per_response in (("countdown", countdown_s), ("math, one thread", math_s)):
        if per_response is not None:
            reward_s = STEP_RESPONSES * per_response
            print(f"step share ({label}): {reward_s:.2f} s of a {step_s:g} s step = {reward_s / step_s:.1%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/bench_rewards.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--countdown", type=int, default=20_000, help="Countdown responses to score")
    parser.add_argument("--math", type=int, default=300, help="math answers to check (0 skips math)")
    parser.add_argument(
        "--threads", type=int, default=MAX_HELPERS, help="threads for the threaded math figure"
    )
    parser.add_argument("--timeout-s", type=float, default=0.5, help="math_timeout_s of the hanging check")
    parser.add_argument(
        "--step-s", type=float, help="seconds of a training step (a run's timing_s/step) to report shares of"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a hostile or deadline bound is missed"
    )
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # math-verify warns on every in-process call that its timeout is off
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus visible, {MAX_HELPERS} math helpers at most"
    )
    countdown_s = bench_countdown(args.countdown)
    worst_ms = bench_hostile()
    math_s, overrun = None, 0.0
    if args.math:
        worst_ms = max(worst_ms, bench_math_hostile())
        math_s, overrun = bench_math(args.math, args.threads, args.timeout_s)
    if args.step_s:
        print_step_share(countdown_s, math_s, args.step_s)
    missed = worst_ms > HOSTILE_LIMIT_MS or overrun > DEADLINE_SLACK_S
    if missed:
        print(f"MISSED: hostile inputs under {HOSTILE_LIMIT_MS:.0f} ms, deadline + {DEADLINE_SLACK_S} s")
    return int(missed and args.check)


if __name__ == "__main__":
    sys.exit(main())
