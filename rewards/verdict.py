"""What a task scorer decides about an extracted answer; rewards.registry turns it into the reward dict.

python -m pytest tests/rewards -q
"""

from __future__ import annotations

from typing import NamedTuple

MAX_PRED_CHARS = 200  # `pred` goes into every validation dump and majority vote: keep it short


class Verdict(NamedTuple):  # built per response: a NamedTuple is cheaper than a frozen dataclass
    correct: bool
    pred: str  # the answer in the scorer's canonical form (for majority voting), or "" if unreadable
    timed_out: bool = False  # the check hit its deadline (math only)
    refused: str = ""  # the bound a math answer broke, so it was never checked (rewards.math_screen)


def raw_pred(answer: str) -> str:
    """An answer's text with whitespace collapsed, as `pred` when no canonical form exists."""
    return " ".join(answer.split())[:MAX_PRED_CHARS]
