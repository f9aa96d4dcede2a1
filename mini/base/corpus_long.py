"""The long miniature's corpus (recipes/countdown-mini-long.yaml): countdown-mini's planted search, with a
long-tailed number of lines and rare slips, half of them caught by `wait`.

Problems, prompt, direct guesses, drills, steps and lines are corpus.py's; the planted search differs three
times:

- Order: the lines try the first steps in the one order corpus.first_steps lists them for the numbers as the
  prompt shows them (pairs left to right, then + - * /), not shuffled. A search that goes on therefore never
  repeats a line, and one that goes on to the end has tried every first step: with a shuffled order the
  base's searches, made to go on, wrote 13-17 lines on 12 first steps and reached only 67% (the first long
  base's gate), so longer thinking had little to win.

- Line cap: each search trace draws how many lines it may write from a power law, P(cap = k) = k^-2 / ζ(2)
  (LINE_CAP_EXPONENT), every cap of MAX_FIRST_STEPS or more folded into MAX_FIRST_STEPS: 60.8% may write one
  line, 15.2% two, 6.8% three, and 5.3% MAX_FIRST_STEPS, which is exhaustive (no problem has more first
  steps, so such a trace tries every first step until it hits, and always hits: the target of every
  problem is reachable). A problem with fewer first steps is searched exhaustively by any cap at least its
  number of first steps. The hazard of stopping after a line without a hit falls with the line (0.61,
  0.39, 0.28, ...): most searches are short, the few that go on tend to go far. A search that reaches its
  cap without a hit ends in `guess` and a random route, as in corpus.py.
- Slips: in `slip_share` of the search traces one judged step, drawn uniformly from those the clean trace
  writes, is written wrong: at the hit it is a missed hit (right value, judged `no`), elsewhere a wrong
  value one or two away from the right one (never the target, so judged `no`). `corrected_share` of the
  slips are caught at once: `wait`, the step written again right and judged right, and the search goes on
  from there (`, 18 + 8 = 27 #10 no wait 18 + 8 = 26 #10 no , ...`; `, 18 - 8 = 10 #10 no wait 18 - 8 = 10
  #10 yes verify ...`). The others are not: the search carries on as if the wrong step were right (a missed
  hit is passed by). rewards.behaviour counts a caught slip as a self-correction.

The control base (prior `short`, pretrain_long.PRIORS) keeps everything but the long searches and slips:
caps above its `max_lines` are folded into it, and no step slips.

    python -m pytest tests/mini/test_corpus_long.py -q
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from mini.base.corpus import DRILL_SHARE, Route, Step, combine, direct_response, drill, first_steps, prompt
from mini.base.vocab import MAX_INTEGER

LINE_CAP_EXPONENT = 2
# The most first steps three numbers allow: three pairs, each with + - * / (a / only when exact).
MAX_FIRST_STEPS = 12
SLIP_OFFSETS = (-2, -1, 1, 2)
CORRECTION_WORD = "wait"


@dataclass(frozen=True)
class Mixture:
    """What a long-miniature corpus plants: search share, longest line cap, slip and correction shares."""

    search_share: float
    max_lines: int
    slip_share: float
    corrected_share: float


@dataclass(frozen=True)
class Slip:
    index: int  # which judged step of the trace (0 = the first) is written wrong
    corrected: bool


def line_cap_shares(max_lines: int = MAX_FIRST_STEPS) -> list[float]:
    """P(cap = k) for k = 1..max_lines: the power law, its tail from max_lines on folded into max_lines."""
    zeta = math.pi**2 / 6  # ζ(2): LINE_CAP_EXPONENT is 2
    shares = [k**-LINE_CAP_EXPONENT / zeta for k in range(1, max_lines)]
    return [*shares, 1 - sum(shares)]


def draw_line_cap(rng: random.Random, max_lines: int) -> int:
    return rng.choices(range(1, max_lines + 1), weights=line_cap_shares(max_lines))[0]


def judged_text(step: Step, target: int, value: int | None = None, hit: bool | None = None) -> str:
    """`L op R = V #T yes|no`, as written (value and verdict default to the right ones)."""
    value = step.value if value is None else value
    hit = value == target if hit is None else hit
    return f"{step.left} {step.op} {step.right} = {value} #{target} {'yes' if hit else 'no'}"


def slipped_text(step: Step, target: int, rng: random.Random) -> str:
    """The step written wrong: a missed hit at the target, elsewhere a wrong value (not the target)."""
    if step.value == target:
        return judged_text(step, target, hit=False)
    wrong = [
        step.value + offset
        for offset in SLIP_OFFSETS
        if 0 <= step.value + offset <= MAX_INTEGER and step.value + offset != target
    ]
    return judged_text(step, target, value=rng.choice(wrong))


def clean_judged_steps(order: list[tuple[Step, int]], target: int, cap: int) -> int:
    """How many steps a trace without slips judges: every second step of its lines up to the first hit."""
    judged = 0
    for first, rest in order[:cap]:
        for second in combine(first.value, rest):
            judged += 1
            if second.value == target:
                return judged
    return judged


def write_search(
    numbers: tuple[int, ...],
    order: list[tuple[Step, int]],
    target: int,
    cap: int,
    slip: Slip | None,
    rng: random.Random,
) -> str:
    """The trace trying the first steps of `order` (at most `cap` lines), with `slip` written wrong."""
    lines, judged = [], 0
    for first, rest in order[:cap]:
        parts = [f"try {first.text()}"]
        for second in combine(first.value, rest):
            hit = second.value == target
            if slip is not None and judged == slip.index:
                parts.append(f", {slipped_text(second, target, rng)}")
                if slip.corrected:
                    parts.append(f"{CORRECTION_WORD} {judged_text(second, target)}")
                else:
                    hit = False  # carried on as written: the slip is never judged a hit
            else:
                parts.append(f", {judged_text(second, target)}")
            judged += 1
            if hit:
                expression = Route(first, rest, second).expression()
                lines.append(" ".join(parts))
                return " ".join(lines) + f" verify {expression} = {target} " + answer(expression)
        lines.append(" ".join(parts))
    return " ".join(lines) + " " + direct_response(numbers, rng)


def answer(expression: str) -> str:
    return f"</think> <answer> {expression} </answer>"


def search_response(numbers: tuple[int, ...], target: int, rng: random.Random, mixture: Mixture) -> str:
    """A planted search: first steps in their fixed order, a drawn line cap, and at `slip_share` one slip."""
    order = first_steps(numbers)
    cap = draw_line_cap(rng, mixture.max_lines)
    slip = None
    if rng.random() < mixture.slip_share:
        index = rng.randrange(clean_judged_steps(order, target, cap))
        slip = Slip(index, corrected=rng.random() < mixture.corrected_share)
    return write_search(numbers, order, target, cap, slip, rng)


def example(pool: list[tuple[tuple[int, ...], int]], mixture: Mixture, rng: random.Random) -> tuple[str, str]:
    """One (prompt, response) pair drawn from the mixture; `pool` holds the problems it may use."""
    if rng.random() < DRILL_SHARE:
        return "drill", drill(rng)
    numbers, target = rng.choice(pool)
    shown = list(numbers)
    rng.shuffle(shown)
    shown = tuple(shown)
    if rng.random() < mixture.search_share:
        return prompt(shown, target), search_response(shown, target, rng, mixture)
    return prompt(shown, target), direct_response(shown, rng)
