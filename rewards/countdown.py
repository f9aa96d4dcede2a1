"""Countdown and 24-point scorer: the answer must use the given numbers and hit the target, exactly.

Correct means the expression is in the language of rewards.arithmetic, the multiset of its literals equals
the given numbers (each used once, all used: the rule the data generator guarantees solvable), its exact
value equals the target, and a trailing `= N`, if written, restates the target. 24-point is Countdown
with four numbers and target 24, so both data sources share this scorer.

    python -m pytest tests/rewards/test_countdown.py -q
"""

from __future__ import annotations

from collections.abc import Mapping

from rewards.arithmetic import InvalidExpression, parse_equation
from rewards.verdict import Verdict, raw_pred


def puzzle(ground_truth: object) -> tuple[int, tuple[int, ...]]:
    """(target, sorted numbers) from `{"target": int, "numbers": [int, ...]}` (lists may be numpy arrays)."""
    if not isinstance(ground_truth, Mapping) or "target" not in ground_truth or "numbers" not in ground_truth:
        raise ValueError(
            f'countdown ground_truth must be {{"target": int, "numbers": [...]}}, got {ground_truth!r}'
        )
    try:
        return int(ground_truth["target"]), tuple(sorted(int(n) for n in ground_truth["numbers"]))
    except (TypeError, ValueError):
        raise ValueError(
            f"countdown ground_truth has non-integer target or numbers: {ground_truth!r}"
        ) from None


def score_countdown(answer: str, ground_truth: object) -> Verdict:
    target, numbers = puzzle(ground_truth)
    try:
        equation = parse_equation(answer)
    except InvalidExpression:
        return Verdict(correct=False, pred=raw_pred(answer))
    correct = (
        equation.value == target
        and tuple(sorted(equation.literals)) == numbers
        and equation.claimed in (None, target)
    )
    return Verdict(correct=correct, pred=raw_pred(equation.text))
