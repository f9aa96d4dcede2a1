"""Control rewards, for telling a real gain from one any reward would give ("Spurious Rewards", arXiv
2506.10947): a table from the `control` option's value to the function that gives the score.

Each control replaces `score` only; `acc` and every other component stay the truth:
  none         the reward itself: correct_score for a right answer, format_score for a wrong one, 0 without
               an answer (or when strict_format is on and the strict format fails);
  random       correct_score or 0 by a fair coin keyed on (control_seed, response, ground truth): seeded,
               reproducible, and independent of correctness;
  format_only  correct_score when the lenient format holds, whatever the answer;
  shuffled     scored as usual, but against a wrong ground truth: the problem's own one replaced by a keyed
               pseudo-random value (a Countdown target in 1..100, a math answer in 0..999) that is never the
               true one and is the same for every response to that problem (the "incorrect label" reward).

    python -m pytest tests/rewards/test_controls.py -q
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SHUFFLED_TARGETS = 100  # Countdown's default target range 1..100
SHUFFLED_ANSWERS = 1000


@dataclass(frozen=True)
class Scoring:
    """What a control reads about one scored response."""

    options: Any  # rewards.options.RewardOptions
    response: str
    ground_truth: object
    answer: str | None  # the extracted answer, None when there is none
    correct: bool  # the answer is right against the true ground truth
    gate: bool  # the strict-format gate lets the response score (always true without strict_format)
    lenient: bool  # the lenient format holds
    rescore: Callable[[object], bool]  # is the answer right against another ground truth?


def _graded(scoring: Scoring, right: bool) -> float:
    if right and scoring.gate:
        return scoring.options.correct_score
    if scoring.answer is not None and scoring.gate:
        return scoring.options.format_score
    return 0.0


def _coin(seed: int, response: str, ground_truth: object) -> int:
    """A fair, reproducible coin for the random control: sha256 of the seed, response and ground truth."""
    key = f"{seed}\x00{ground_truth!r}\x00".encode() + response.encode("utf-8", "surrogatepass")
    return hashlib.sha256(key).digest()[0] & 1


def _keyed(seed: int, ground_truth: object) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\x00{ground_truth!r}".encode()).digest()[:8], "big")


def shuffled_truth(seed: int, ground_truth: object) -> object:
    """The wrong ground truth the shuffled control scores against: keyed on (seed, truth), never the truth."""
    key = _keyed(seed, ground_truth)
    if isinstance(ground_truth, Mapping) and "target" in ground_truth:
        true_target = ground_truth["target"]
        wrong = 1 + key % SHUFFLED_TARGETS
        if wrong == true_target:
            wrong = wrong % SHUFFLED_TARGETS + 1
        return {**ground_truth, "target": wrong}
    wrong = key % SHUFFLED_ANSWERS
    if str(wrong) == str(ground_truth).strip():
        wrong = (wrong + 1) % SHUFFLED_ANSWERS
    return str(wrong)


def _none(s: Scoring) -> float:
    return _graded(s, s.correct)


def _random(s: Scoring) -> float:
    return s.options.correct_score * _coin(s.options.control_seed, s.response, s.ground_truth)


def _format_only(s: Scoring) -> float:
    return s.options.correct_score * s.lenient


def _shuffled(s: Scoring) -> float:
    return _graded(s, s.rescore(shuffled_truth(s.options.control_seed, s.ground_truth)))


CONTROL_SCORES: dict[str, Callable[[Scoring], float]] = {
    "none": _none,
    "random": _random,
    "format_only": _format_only,
    "shuffled": _shuffled,
}
CONTROLS = tuple(CONTROL_SCORES)
