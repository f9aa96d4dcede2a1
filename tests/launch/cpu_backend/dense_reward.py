"""Test-only reward for CPU trainer runs: a smooth score of the response text, never the task's answer.

A random-weight tiny model never solves Countdown, so the real reward would be 0 for every sample and GRPO's
advantages (and gradients) would vanish. This score varies from sample to sample instead: the share of the
response's characters that could appear in an arithmetic answer. It is pure and bounded in [0, 1].

    python -m pytest tests/launch/cpu_backend/test_cpu_backend.py
"""

from __future__ import annotations

ARITHMETIC_CHARS = frozenset("0123456789+-*/()= ")


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict[str, float]:
    if not solution_str:
        return {"score": 0.0, "arithmetic_share": 0.0}
    share = sum(char in ARITHMETIC_CHARS for char in solution_str) / len(solution_str)
    return {"score": share, "arithmetic_share": share}
