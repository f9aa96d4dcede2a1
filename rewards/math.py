"""Math scorers (GSM8K, MATH, MATH-500, AIME): math-verify equivalence under a hard deadline.

The answer text comes from rewards.format (the template's `<answer>` block or last `\\boxed{}`); the
comparison is rewards.math_check (math-verify, no hand-written LaTeX normaliser) run in a helper process
by rewards.math_pool, so a pathological answer (`\\boxed{10^{10^{10}}}` hangs sympy) costs at most
`timeout_s` and never stalls a verl reward thread. Answers longer than MAX_ANSWER_CHARS are not sent.

    python -m pytest tests/rewards/test_math.py -q
"""

from __future__ import annotations

import numbers

from rewards.math_pool import check_in_helper
from rewards.verdict import Verdict, raw_pred

MAX_ANSWER_CHARS = 1000  # MATH's longest reference answers are matrices of ~200 characters
DEFAULT_TIMEOUT_S = 5.0  # math-verify's own default per check


def reference_answer(ground_truth: object) -> str:
    """The reference as text; a number is accepted (some GSM8K copies store ints, numpy ones included)."""
    if isinstance(ground_truth, bool) or not isinstance(ground_truth, str | numbers.Real):
        raise ValueError(f"math ground_truth must be the reference answer string, got {ground_truth!r}")
    return str(ground_truth)


def score_math(answer: str, ground_truth: object, mode: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Verdict:
    """Compare an extracted answer with the reference; mode is "latex" or "number" (see math_check)."""
    gold = reference_answer(ground_truth)
    if not answer.strip() or len(answer) > MAX_ANSWER_CHARS:
        return Verdict(correct=False, pred=raw_pred(answer))
    result = check_in_helper(gold, answer, mode, timeout_s)
    if result.timed_out:
        return Verdict(correct=False, pred=raw_pred(answer), timed_out=True)
    return Verdict(correct=result.correct, pred=result.pred)
