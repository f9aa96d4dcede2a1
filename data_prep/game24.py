"""24-point: make 24 from four numbers in 1..13 with + - * / and ( ), each used exactly once.

All 1,820 multisets of four numbers from 1..13 are enumerated and checked with the exact solver; exactly
the solvable ones become problems (fractions on the way count: 3 3 8 8 is 8 / (3 - 8 / 3)). A hand whose
every solution needs a non-integer intermediate is marked `extra_info.needs_fraction`; the stored solution
uses whole intermediates whenever the hand allows. The split is deterministic: hands are ranked by a
seeded sha256 of their numbers within each difficulty (needs_fraction or not) and the first
`test_fraction` of each go to test, so both splits get their share of hard hands.

    python -m data_prep game24 --out data/game24
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from itertools import combinations_with_replacement

import pyarrow as pa

from data_prep.rows import ARITHMETIC_TRUTH_TYPE, BuildError, make_table, row_schema
from data_prep.solver import solve
from data_prep.templates import PromptTemplate, get_template, require_sentence_questions
from data_prep.writer import skip_if_complete, write_build

GENERATOR_VERSION = "game24-v1"
DATA_SOURCE = "game24"
ABILITY = "arithmetic"
TARGET = 24
CARD_VALUES = range(1, 14)
SCHEMA = row_schema(ARITHMETIC_TRUTH_TYPE, [("solution", pa.string()), ("needs_fraction", pa.bool_())])


def question(numbers: tuple[int, ...]) -> str:
    listed = ", ".join(str(n) for n in numbers)
    return (
        f"Make {TARGET} from the numbers {listed}, using each of them exactly once. You may use +, -, *, / and "
        "parentheses, and intermediate results may be fractions. Give the expression alone as the answer, "
        "for example (7 - 3) * 6, without '= 24'."
    )


def hands() -> list[tuple[tuple[int, ...], str | None, bool]]:
    """(numbers, solution or None, needs_fraction) for every multiset of four card values."""
    result = []
    for numbers in combinations_with_replacement(CARD_VALUES, 4):
        whole = solve(numbers, TARGET, integer_only=True)
        solution = whole or solve(numbers, TARGET)
        result.append((numbers, solution, solution is not None and whole is None))
    return result


def split_hands(solvable: list, test_fraction: float, seed: int) -> tuple[list, list]:
    def rank(hand: tuple) -> str:
        return hashlib.sha256(f"{seed}:{hand[0]}".encode()).hexdigest()

    train, test = [], []
    for hard in (False, True):
        stratum = sorted((h for h in solvable if h[2] == hard), key=rank)
        cut = round(len(stratum) * test_fraction)
        test += stratum[:cut]
        train += stratum[cut:]
    return sorted(train), sorted(test)


def table(hands_: list, split: str, template: PromptTemplate) -> pa.Table:
    return make_table(
        SCHEMA,
        data_source=DATA_SOURCE,
        ability=ABILITY,
        template=template,
        split=split,
        questions=[question(numbers) for numbers, _, _ in hands_],
        ground_truths=[{"target": TARGET, "numbers": list(numbers)} for numbers, _, _ in hands_],
        solution=[solution for _, solution, _ in hands_],
        needs_fraction=[hard for _, _, hard in hands_],
    )


def _statistics(hands_: list) -> dict:
    return {
        "problems": len(hands_),
        "needs_fraction": sum(hard for _, _, hard in hands_),
        "solution_operators": {op: sum(h[1].count(f" {op} ") for h in hands_) for op in "+-*/"},
        "numbers_used": {str(k): v for k, v in sorted(Counter(n for h in hands_ for n in h[0]).items())},
    }


def build(
    out_dir: str | os.PathLike,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    template: str = "base",
    force: bool = False,
    if_missing: bool = False,
) -> dict:
    """Enumerate, split and write the 24-point set to `out_dir`; returns its meta (as written)."""
    arguments = {"test_fraction": test_fraction, "seed": seed, "template": template}
    if if_missing and (existing := skip_if_complete(out_dir, arguments)):
        return existing
    if not 0 < test_fraction < 1:
        raise BuildError(f"--test-fraction must be strictly between 0 and 1 (got {test_fraction})")
    try:
        prompt = require_sentence_questions(get_template(template), "game24")
    except ValueError as error:
        raise BuildError(f"--template: {error}") from None
    every_hand = hands()
    solvable = [hand for hand in every_hand if hand[1] is not None]
    train, test = split_hands(solvable, test_fraction, seed)
    if not train or not test:
        raise BuildError(f"--test-fraction {test_fraction} leaves an empty split of {len(solvable)} problems")
    meta = {
        "task": DATA_SOURCE,
        "generator_version": GENERATOR_VERSION,
        "method": "all multisets of four numbers in 1..13 checked with the exact solver (data_prep/solver.py)",
        "arguments": arguments,
        "seed": seed,
        "pyarrow": pa.__version__,
        "statistics": {
            "multisets": len(every_hand),
            "solvable": len(solvable),
            "unsolvable": len(every_hand) - len(solvable),
            "train": _statistics(train),
            "test": _statistics(test),
        },
    }
    tables = {"train": table(train, "train", prompt), "test": table(test, "test", prompt)}
    return write_build(out_dir, tables, meta, force)
