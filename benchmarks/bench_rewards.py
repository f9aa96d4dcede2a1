"""Reward scoring speed: Countdown throughput on one core, the worst hostile input, and math throughput.

Countdown responses are synthetic but shaped like real rollouts (about 1 KB: step-by-step reasoning with
some "wait"/"let me check", then `</think> <answer>...</answer>`), a mix of correct, wrong, invalid and
unanswered. Targets from the reward issue: at least 30,000 Countdown responses per second on one core,
and every hostile case under 50 ms. Math goes through the math-verify helper processes, so its figure
includes the pipe round trip.

    python benchmarks/bench_rewards.py                 # full run (about a minute)
    python benchmarks/bench_rewards.py --countdown 30000 --math 200 --check   # exit 1 if a target is missed
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from rewards import compute_score

COUNTDOWN_TARGET_PER_S = 30_000
HOSTILE_LIMIT_MS = 50.0
NUMBERS = [3, 7, 25, 50]
GROUND_TRUTH = {"target": 100, "numbers": NUMBERS}
EXTRA_INFO = {"split": "test", "index": 0, "template": "base"}
REWARD_KWARGS = {"format_score": 0.1, "strict_format": False}  # as a recipe passes them


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
    }


def bench_countdown(count: int) -> float:
    rng = random.Random(0)
    responses = [countdown_response(rng) for _ in range(count)]
    mean_chars = statistics.mean(len(r) for r in responses)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for response in responses:
            compute_score("countdown", response, GROUND_TRUTH, EXTRA_INFO, **REWARD_KWARGS)
        runs.append(count / (time.perf_counter() - started))
    accuracy = statistics.mean(
        compute_score("countdown", r, GROUND_TRUTH, EXTRA_INFO)["acc"] for r in responses
    )
    best = max(runs)
    print(
        f"countdown: {count} responses, mean {mean_chars:.0f} chars, {accuracy:.0%} correct; "
        f"{best:,.0f} responses/s on one core (best of 3; runs {', '.join(f'{r:,.0f}' for r in runs)}), "
        f"{1e6 / best:.1f} us each"
    )
    return best


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


def bench_math(count: int, threads: int) -> None:
    """Distinct answers (math-verify caches parses): MATH-style boxed fractions and GSM8K-style amounts."""

    def make_row(i: int) -> tuple[str, str, str, str]:
        if i % 2:
            return (
                "math",
                f"So $\\boxed{{\\frac{{{i}}}{{{i + 1}}}}}$.",
                f"\\frac{{{2 * i}}}{{{2 * i + 2}}}",
                "boxed",
            )
        return (
            "gsm8k",
            f"<think> add </think> <answer>${i * 1000:,} in all</answer>",
            str(i * 1000),
            "instruct",
        )

    work = [make_row(i) for i in range(1, count + 1)]
    more = [make_row(i) for i in range(count + 1, 2 * count + 1)]

    def score(row):
        source, response, gold, template = row
        return compute_score(source, response, gold, {"template": template})

    started = time.perf_counter()
    score(work[0])  # starts the first helper process
    print(f"math: first call (starts a helper) {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    correct = sum(score(row)["acc"] for row in work)
    sequential = count / (time.perf_counter() - started)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(score, work[: threads * 2]))  # start the other helpers outside the timing
        started = time.perf_counter()
        threaded = sum(result["acc"] for result in pool.map(score, more))
        parallel = count / (time.perf_counter() - started)
    started = time.perf_counter()
    hung = compute_score("math", "\\boxed{10^{10^{10}}}", "1", {"template": "boxed"}, math_timeout_s=1.0)
    print(
        f"math: {count} checks, {correct}/{count} correct; {sequential:,.0f} checks/s from one thread, "
        f"{parallel:,.0f} checks/s from {threads} threads ({threaded}/{count} correct); "
        f"a hanging answer returned after {time.perf_counter() - started:.2f} s (timed_out={hung['timed_out']}, "
        "math_timeout_s=1)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/bench_rewards.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--countdown", type=int, default=50_000, help="Countdown responses to score (>= 30000)"
    )
    parser.add_argument("--math", type=int, default=400, help="math answers to check (0 skips math)")
    parser.add_argument("--threads", type=int, default=4, help="threads for the threaded math figure")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target above is missed")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus visible; timings are single-threaded")
    per_second = bench_countdown(args.countdown)
    worst_ms = bench_hostile()
    if args.math:
        bench_math(args.math, args.threads)
    missed = per_second < COUNTDOWN_TARGET_PER_S or worst_ms > HOSTILE_LIMIT_MS
    if missed:
        print(f"MISSED: target {COUNTDOWN_TARGET_PER_S:,}/s and {HOSTILE_LIMIT_MS:.0f} ms")
    return int(missed and args.check)


if __name__ == "__main__":
    sys.exit(main())
