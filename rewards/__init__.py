"""Rule rewards for R1-Zero-style RL: exact Countdown / 24-point scoring, math-verify for math, format and
behaviour counters, behind verl 0.9.1's `compute_score` signature (rewards/verl_reward.py is the file
recipes point `reward.custom_reward_function.path` at).

    python -m pytest tests/rewards -q
"""

from rewards.registry import compute_score, scorer_for

__all__ = ["compute_score", "scorer_for"]
