"""Imports TinyZero's Countdown set (`Jiayi-Pan/Countdown-Tasks-3to4`, columns `target` and `nums`) with
TinyZero's split: the first 327,680 rows train, the next 1,024 test, in hub order, nothing removed. Each row
is checked with the exact solver under the all-numbers rule the reward enforces; rows that fail keep their
place (so results compare with TinyZero's exactly) with `extra_info.solvable = false`, and meta.json counts
them, along with duplicate problems.

    python -m data_prep countdown --source hub --out data/countdown-hub          # online only
    python -m data_prep countdown --source copy.parquet --out data/countdown-hub # a local copy, same columns
"""

from __future__ import annotations

import os
from collections import Counter

import pyarrow as pa
from tqdm import tqdm

from data_prep.countdown import DATA_SOURCE, statistics, table
from data_prep.rows import BuildError
from data_prep.solver import solve
from data_prep.sources import column, load_hub, read_records
from data_prep.templates import get_template
from data_prep.writer import skip_if_complete, write_build

HUB_DATASET = "Jiayi-Pan/Countdown-Tasks-3to4"
IMPORT_VERSION = "countdown-hub-v1"


def _problems(records: list[dict], origin: str) -> list[tuple[list[int], int]]:
    try:
        return [
            ([int(n) for n in column(r, ("nums",), origin)], int(column(r, ("target",), origin)))
            for r in records
        ]
    except (TypeError, ValueError) as error:
        raise BuildError(
            f"{origin}: `nums` must be lists of integers and `target` an integer ({error})"
        ) from None


def _checked(problems: list[tuple[list[int], int]], desc: str) -> list[tuple[list[int], int, str | None]]:
    return [
        (numbers, target, solve(numbers, target))
        for numbers, target in tqdm(problems, desc=desc, disable=None)
    ]


def _report(problems: list[tuple[list[int], int, str | None]]) -> dict:
    solvable = [p for p in problems if p[2] is not None]
    keys = Counter((tuple(sorted(numbers)), target) for numbers, target, _ in problems)
    return {
        "unsolvable_rows": len(problems) - len(solvable),
        "duplicate_rows": sum(n - 1 for n in keys.values()),
        **(statistics(solvable) if solvable else {}),
    }


def build(
    out_dir: str | os.PathLike,
    *,
    source: str,
    train_size: int = 327_680,
    test_size: int = 1_024,
    template: str = "base",
    force: bool = False,
    if_missing: bool = False,
) -> dict:
    """Import the hub set (`source="hub"`) or a local copy of it (a file path); returns the meta written."""
    arguments = {"source": source, "train_size": train_size, "test_size": test_size, "template": template}
    if if_missing and (existing := skip_if_complete(out_dir, arguments)):
        return existing
    for name in ("train_size", "test_size"):
        if arguments[name] < 1:
            raise BuildError(f"--{name.replace('_', '-')} must be at least 1 (got {arguments[name]})")
    try:
        prompt = get_template(template)
    except ValueError as error:
        raise BuildError(f"--template: {error}") from None
    if source == "hub":
        origin, records = HUB_DATASET, load_hub(HUB_DATASET, None, "train")
    else:
        if not os.path.isfile(source):
            raise BuildError(f"--source {source}: no such file (give 'hub' or a parquet/jsonl/json copy)")
        origin, records = f"--source {source}", read_records(source)
    if len(records) < train_size + test_size:
        raise BuildError(
            f"--train-size + --test-size = {train_size + test_size} but {origin} has only {len(records)} rows"
        )
    problems = _problems(records[: train_size + test_size], origin)
    train = _checked(problems[:train_size], "checking train")
    test = _checked(problems[train_size:], "checking test")
    train_keys = {(tuple(sorted(numbers)), target) for numbers, target, _ in train}
    tables = {
        "train": table(train, "train", prompt, HUB_DATASET, source_offset=0),
        "test": table(test, "test", prompt, HUB_DATASET, source_offset=train_size),
    }
    meta = {
        "task": DATA_SOURCE,
        "generator_version": IMPORT_VERSION,
        "method": f"imported from {HUB_DATASET} in hub order; every row checked with the exact solver",
        "arguments": arguments,
        "seed": None,
        "pyarrow": pa.__version__,
        "statistics": {
            "train": _report(train),
            "test": _report(test),
            "test_rows_also_in_train": sum((tuple(sorted(n)), t) in train_keys for n, t, _ in test),
        },
    }
    return write_build(out_dir, tables, meta, force)
