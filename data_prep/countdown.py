"""Countdown: reach a target from 3-4 numbers with + - * / and ( ), using every number exactly once.

Problems are solvable by construction, not by search: draw the numbers uniformly from 1..max_number, then
combine two random items at a time with an operator drawn among those whose result is a positive whole
number (the TV game's rule), the last step only among results in 1..max_target. The value reached is the
target and the combination is the stored solution (`extra_info.solution`), so every problem is solvable
with each number used once; the reward accepts any exact rational route. Duplicates (same multiset and
target) are redrawn. The test split comes first from its own random stream, so it does not depend on
--train-size, and train never repeats it. meta.json states the resulting distribution.

    python -m data_prep countdown --out data/countdown
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter
from math import comb

import pyarrow as pa
from tqdm import tqdm

from data_prep.rows import ARITHMETIC_TRUTH_TYPE, BuildError, make_table, row_schema, summarise
from data_prep.solver import join, leaf
from data_prep.templates import SENTENCE, TERSE, PromptTemplate, get_template
from data_prep.writer import skip_if_complete, write_build

GENERATOR_VERSION = "countdown-v1"
# The held-out test split of the default build (seed 0, 1,024 problems, default ranges) under this version;
# tests pin it, so a generator change that moves the test set must bump GENERATOR_VERSION.
DEFAULT_TEST_FINGERPRINT = "9cfdf4a7c2ec191febd6a8647b5a5afe83741d77b627f04ecce02379b65ce0f8"
DATA_SOURCE = "countdown"
ABILITY = "arithmetic"
MAX_NUMBERS = 6
# A split slot that finds no new problem in this many draws means the ranges are (nearly) exhausted.
MAX_FAILED_DRAWS = 50_000

# source: "generated" or the hub id; source_index: the row in the hub's train split (hub imports only).
SCHEMA = row_schema(
    ARITHMETIC_TRUTH_TYPE,
    [
        ("solution", pa.string()),
        ("source", pa.string()),
        ("source_index", pa.int64()),
        ("solvable", pa.bool_()),
    ],
)


def question(numbers: list[int], target: int, style: str = SENTENCE) -> str:
    if style == TERSE:
        # The target is written #N, one word apart from the numbers the arithmetic produces.
        return f"numbers {' '.join(str(n) for n in numbers)} target #{target}"
    listed = ", ".join(str(n) for n in numbers)
    return (
        f"Write an arithmetic expression equal to {target} that uses each of the numbers {listed} exactly "
        "once. You may use +, -, *, / and parentheses. Give the expression alone as the answer, for example "
        f"(7 - 3) * 25, without '= {target}'."
    )


def fingerprint(problems: list[tuple[list[int], int, str | None]]) -> str:
    """sha256 of the problems (numbers in order, target) alone: the same across templates and pyarrow versions."""
    return hashlib.sha256(json.dumps([[p[0], p[1]] for p in problems]).encode()).hexdigest()


def _draw(
    rng: random.Random, count: int, max_number: int, max_target: int
) -> tuple[list[int], int, str] | None:
    """One construction attempt: (numbers, target, solution), or None when the last step misses the range."""
    draw = rng.random  # int(random() * n) is several times cheaper than randrange and as reproducible
    numbers = [int(draw() * max_number) + 1 for _ in range(count)]
    items = [(n, leaf(n)) for n in numbers]
    while len(items) > 1:
        first = items.pop(int(draw() * len(items)))
        second = items.pop(int(draw() * len(items)))
        big, small = (first, second) if first[0] >= second[0] else (second, first)
        a, b = big[0], small[0]
        options = [(a + b, "+"), (a * b, "*")]
        if a != b:
            options.append((a - b, "-"))
        if a % b == 0:
            options.append((a // b, "/"))
        if not items:
            options = [option for option in options if option[0] <= max_target]
            if not options:
                return None
        value, op = options[int(draw() * len(options))]
        items.append((value, join(op, big[1], small[1])))
    return numbers, items[0][0], items[0][1][0]


def generate(
    size: int, rng: random.Random, counts: range, max_number: int, max_target: int, taken: set, progress: tqdm
) -> list[tuple[list[int], int, str]]:
    """`size` new problems (keys added to `taken`); the count of numbers cycles through `counts` evenly."""
    problems = []
    for slot in range(size):
        count = counts[slot % len(counts)]
        for _ in range(MAX_FAILED_DRAWS):
            drawn = _draw(rng, count, max_number, max_target)
            if drawn is not None and (key := (tuple(sorted(drawn[0])), drawn[1])) not in taken:
                taken.add(key)
                problems.append(drawn)
                progress.update()
                break
        else:
            raise BuildError(
                f"found only {len(taken)} distinct problems with {count} numbers in 1..{max_number} and targets "
                f"in 1..{max_target} before the draws ran dry; lower --train-size/--test-size or widen "
                "--max-number/--max-target/--min-numbers/--max-numbers"
            )
    return problems


def statistics(problems: list[tuple[list[int], int, str]]) -> dict:
    numbers = [n for p in problems for n in p[0]]
    targets = [p[1] for p in problems]
    return {
        "fingerprint": fingerprint(problems),
        "problems_by_number_count": {
            str(k): v for k, v in sorted(Counter(len(p[0]) for p in problems).items())
        },
        "numbers": summarise(numbers),
        "targets": summarise(targets),
        "targets_by_tens": {
            f"{10 * k + 1}-{10 * k + 10}": v
            for k, v in sorted(Counter((t - 1) // 10 for t in targets).items())
        },
        "solution_operators": {op: sum(p[2].count(f" {op} ") for p in problems) for op in "+-*/"},
    }


def table(problems, split: str, template: PromptTemplate, source: str, source_offset: int | None = None):
    """verl rows for (numbers, target, solution) problems; solution None marks an unsolvable (hub) row."""
    return make_table(
        SCHEMA,
        data_source=DATA_SOURCE,
        ability=ABILITY,
        template=template,
        split=split,
        questions=[question(numbers, target, template.question_style) for numbers, target, _ in problems],
        ground_truths=[{"target": target, "numbers": numbers} for numbers, target, _ in problems],
        solution=[solution for _, _, solution in problems],
        source=[source] * len(problems),
        source_index=[None if source_offset is None else source_offset + i for i in range(len(problems))],
        solvable=[solution is not None for _, _, solution in problems],
    )


def _validate(arguments: dict) -> PromptTemplate:
    low, high = arguments["min_numbers"], arguments["max_numbers"]
    if low < 2:
        raise BuildError(f"--min-numbers must be at least 2 (got {low})")
    if low > high:
        raise BuildError(f"--min-numbers ({low}) is larger than --max-numbers ({high})")
    if high > MAX_NUMBERS:
        raise BuildError(f"--max-numbers must be at most {MAX_NUMBERS} (got {high})")
    for name in ("train_size", "test_size", "max_number", "max_target"):
        if arguments[name] < 1:
            raise BuildError(f"--{name.replace('_', '-')} must be at least 1 (got {arguments[name]})")
    counts = range(low, high + 1)
    requested = arguments["train_size"] + arguments["test_size"]
    for count in counts:
        # Upper bound: every multiset of `count` numbers paired with every target.
        capacity = comb(arguments["max_number"] + count - 1, count) * arguments["max_target"]
        slots = -(-requested // len(counts))
        if slots > capacity:
            raise BuildError(
                f"--train-size + --test-size = {requested} needs {slots} problems with {count} numbers, but "
                f"numbers in 1..{arguments['max_number']} and targets in 1..{arguments['max_target']} allow at "
                f"most {capacity}"
            )
    try:
        return get_template(arguments["template"])
    except ValueError as error:
        raise BuildError(f"--template: {error}") from None


def build(
    out_dir: str | os.PathLike,
    *,
    train_size: int = 327_680,
    test_size: int = 1_024,
    min_numbers: int = 3,
    max_numbers: int = 4,
    max_number: int = 100,
    max_target: int = 100,
    seed: int = 0,
    template: str = "base",
    force: bool = False,
    if_missing: bool = False,
) -> dict:
    """Generate and write a Countdown set to `out_dir`; returns its meta (as written to meta.json)."""
    arguments = {
        "train_size": train_size,
        "test_size": test_size,
        "min_numbers": min_numbers,
        "max_numbers": max_numbers,
        "max_number": max_number,
        "max_target": max_target,
        "seed": seed,
        "template": template,
    }
    if if_missing and (existing := skip_if_complete(out_dir, arguments)):
        return existing
    prompt = _validate(arguments)
    counts = range(min_numbers, max_numbers + 1)
    taken: set = set()
    with tqdm(
        total=train_size + test_size, desc="countdown", unit="problem", disable=None, mininterval=1
    ) as bar:
        test = generate(test_size, random.Random(f"{seed}/test"), counts, max_number, max_target, taken, bar)
        train = generate(
            train_size, random.Random(f"{seed}/train"), counts, max_number, max_target, taken, bar
        )
    tables = {
        "train": table(train, "train", prompt, "generated"),
        "test": table(test, "test", prompt, "generated"),
    }
    meta = {
        "task": DATA_SOURCE,
        "generator_version": GENERATOR_VERSION,
        "method": "by construction (see data_prep/countdown.py): positive whole intermediates, solution stored",
        "arguments": arguments,
        "seed": seed,
        "pyarrow": pa.__version__,
        "statistics": {"train": statistics(train), "test": statistics(test)},
    }
    return write_build(out_dir, tables, meta, force)
