"""Math scorers (GSM8K, MATH, MATH-500, AIME): math-verify equivalence under a hard deadline.

The answer text comes from rewards.format (the template's `<answer>` block or last `\\boxed{}`). First
rewards.math_screen refuses, in linear time, what no reference needs and what makes sympy explode (power
towers, huge factorials, deep nesting, macros, over-long answers): not verified, `refused` says why. The
rest goes to rewards.math_check (math-verify, no hand-written LaTeX normaliser) in a helper process of
rewards.math_pool, so an answer that still hangs sympy costs at most `timeout_s` and never stalls a verl
reward thread.

    python -m pytest tests/rewards/test_math.py -q
"""

from __future__ import annotations

import numbers

from rewards.math_pool import check_in_helper
from rewards.math_screen import refusal
from rewards.verdict import Verdict, raw_pred

DEFAULT_TIMEOUT_S = 5.0  # math-verify's own default per check


def reference_answer(ground_truth: object) -> str:
    """The reference as text; a number is accepted (some GSM8K copies store ints, numpy ones included)."""
    if isinstance(ground_truth, bool) or not isinstance(ground_truth, str | numbers.Real):
        raise ValueError(f"math ground_truth must be the reference answer string, got {ground_truth!r}")
    return str(ground_truth)


def score_math(answer: str, ground_truth: object, mode: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Verdict:
    """Compare an extracted answer with the reference; mode is "latex" or "number" (see math_check)."""
    gold = reference_answer(ground_truth)
    if not answer.strip():
        return Verdict(correct=False, pred="")
    refused = refusal(answer)
    if refused:
        return Verdict(correct=False, pred=raw_pred(answer), refused=refused)
    result = check_in_helper(gold, answer, mode, timeout_s)
    if result.timed_out:
        return Verdict(correct=False, pred=raw_pred(answer), timed_out=True)
    return Verdict(correct=result.correct, pred=result.pred)
