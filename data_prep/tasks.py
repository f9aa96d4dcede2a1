"""The task catalogue: every task ZeroLab trains or evaluates on, declared once.

A task is what a recipe's `task:` / `val_tasks:` and `python -m launch eval --task` name. Its declaration
says how `python -m data_prep` builds it (build_command) and where its splits live (split_path:
`<data>/<task>/<template>/{train,test}.parquet`, spelled nowhere else), which `data_source` values its rows carry (the reward registry
keys on them), which scorer of rewards.registry judges them, the response budget evaluation gives it, and
the prompt template it is built with unless told otherwise. data_prep (default template), rewards (data
source -> scorer), launch (data files, data check) and evaluation (token budget, split check)
all read this table; adding a task is one entry here (README: "Adding a task").

    python -m pytest tests/data_prep/test_tasks.py -q
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Task:
    name: str
    data_prep: tuple[str, ...]  # the arguments of `python -m data_prep` that build it (before --out)
    data_sources: tuple[str, ...]  # the data_source values of its rows
    scorer: str  # a key of rewards.registry.SCORER_KINDS
    eval_max_tokens: int  # evaluation's response budget when --max-tokens is not given
    template: str = "base"  # the prompt template it is built with by default


@dataclass(frozen=True)
class CountdownSize:
    """How big a Countdown problem is: `count` numbers in 1..max_number, a target in 1..max_target."""

    count: int
    max_number: int
    max_target: int

    @property
    def max_value(self) -> int:
        """The largest value `count` numbers reach (their product at max_number)."""
        return self.max_number**self.count

    def data_prep_args(self) -> tuple[str, ...]:
        return (
            *("--min-numbers", str(self.count), "--max-numbers", str(self.count)),
            *("--max-number", str(self.max_number), "--max-target", str(self.max_target)),
        )


# The CPU miniature's problem size (recipes/countdown-mini.yaml): its split, its base model's corpus and its
# tokenizer's integer tokens (mini/base) all read this one spec.
MINI_SIZE = CountdownSize(count=3, max_number=9, max_target=100)

# Response budgets: Countdown/24: TinyZero trained and validated at 1024. gsm8k: short chains fit in 1024.
# Competition math: long chains get cut at 1024, so 4096.
_TASKS = [
    Task("countdown", ("countdown",), ("countdown",), "countdown", 1024),
    # The CPU miniature (MINI_SIZE): 3 numbers in 1..9, 2,145 distinct problems in all, so 256 test + 1,536
    # train leave room for the generator's draws; its base model never saw the test split.
    Task(
        "countdown-mini",
        ("countdown", *MINI_SIZE.data_prep_args(), *("--train-size", "1536", "--test-size", "256")),
        ("countdown",),
        "countdown",
        1024,
    ),
    Task("game24", ("game24",), ("game24",), "countdown", 1024),
    Task("gsm8k", ("math", "--dataset", "gsm8k"), ("gsm8k",), "math-number", 1024),
    *(Task(name, ("math", "--dataset", name), (name,), "math-latex", 4096) for name in ("math", "math500")),
    *(Task(name, ("math", "--dataset", name), (name,), "math-latex", 4096) for name in ("aime24", "aime25")),
]
TASKS: dict[str, Task] = {task.name: task for task in _TASKS}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]


def scorer_kinds() -> dict[str, str]:
    """data_source -> scorer kind, over every task; a data source two tasks share must share its scorer."""
    kinds: dict[str, str] = {}
    for task in TASKS.values():
        for source in task.data_sources:
            if kinds.setdefault(source, task.scorer) != task.scorer:
                raise ValueError(
                    f"data_source {source!r} is scored as both {kinds[source]} and {task.scorer}"
                )
    return kinds


def split_dir(data_dir: str | os.PathLike, task: str, template: str) -> Path:
    """Where a task's splits built with `template` live: <data>/<task>/<template>/."""
    return Path(data_dir) / task / template


def split_path(data_dir: str | os.PathLike, task: str, template: str, split: str) -> Path:
    """One split file: <data>/<task>/<template>/<split>.parquet (split: train or test)."""
    return split_dir(data_dir, task, template) / f"{split}.parquet"


def build_command(task: str, template: str, data_dir: str | os.PathLike = "data") -> list[str]:
    """The `python -m data_prep` command that builds a task's splits with `template` (add --if-missing to keep
    a complete build)."""
    out = str(split_dir(data_dir, task, template))
    return [
        sys.executable,
        "-m",
        "data_prep",
        *get_task(task).data_prep,
        "--out",
        out,
        "--template",
        template,
    ]
