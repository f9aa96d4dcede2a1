"""Rule rewards for R1-Zero-style RL: exact Countdown / 24-point scoring, math-verify for math, format and
behaviour counters, behind verl 0.9.1's `compute_score` signature (rewards/verl_reward.py is the file
recipes point `reward.custom_reward_function.path` at).

    python -m pytest tests/rewards -q
"""

from rewards.registry import SCORERS, compute_score

__all__ = ["SCORERS", "compute_score"]
