"""Validates recipes before any GPU is touched: every run composed against the pinned verl, plus the data.

For each run: verl's Hydra schema and its own checks (launch.verl_config), the reward options against the
reward registry, the data files present, their `data_source` values known to the reward registry, and the
rows built with the prompt template the recipe names (so the reward parses what the prompt asked for).
Errors name the recipe, the run and the key.

    python -m launch validate [RECIPE ...] [--data-dir data] [--no-data-check]   (launch.cli)
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from launch import verl_config
from launch.plan import DATA_DIR, SEED_KEYS, RunPlan, compile_recipe
from launch.recipe import REPO_ROOT, RecipeError, load_recipe

# How `python -m data_prep` builds the split a task names (the data dir is <data>/<task>/<template>/).
DATA_PREP_ARGS = {
    "countdown": ["countdown"],
    # The CPU miniature (recipes/countdown-mini.yaml): 3 numbers in 1..9, 2,145 distinct problems in all, so
    # 256 test + 1,536 train leave room for the generator's draws; its base model never saw the test split.
    "countdown-mini": [
        "countdown",
        *("--min-numbers", "3", "--max-numbers", "3", "--max-number", "9"),
        *("--train-size", "1536", "--test-size", "256"),
    ],
    "game24": ["game24"],
    **{name: ["math", "--dataset", name] for name in ("gsm8k", "math", "math500", "aime24", "aime25")},
}


class RunInvalid(ValueError):
    """A run that must not launch; the message names the recipe, the run and what is wrong."""


def data_build_command(task: str, template: str, data_dir: str = DATA_DIR) -> list[str]:
    if task not in DATA_PREP_ARGS:
        raise RecipeError(f"unknown task {task!r}; known: {', '.join(DATA_PREP_ARGS)}")
    out = f"{data_dir}/{task}/{template}"
    return [sys.executable, "-m", "data_prep", *DATA_PREP_ARGS[task], "--out", out, "--template", template]


def check_reward_options(plan: RunPlan) -> None:
    from rewards.registry import parse_options

    prefix = "+reward.custom_reward_function.reward_kwargs."
    kwargs = {k.removeprefix(prefix): v for k, v in plan.overrides.items() if k.startswith(prefix)}
    try:
        parse_options(kwargs)
    except (TypeError, ValueError) as error:
        raise RunInvalid(f"{plan.run_id}: reward_kwargs: {error}") from None


def check_data(plan: RunPlan, root: Path = REPO_ROOT) -> None:
    import pyarrow.parquet as pq

    from rewards.registry import SCORERS

    tasks = [plan.task, *plan.val_tasks]
    for key, task, path in zip(
        ["data.train_files", *["data.val_files"] * len(plan.val_tasks)], tasks, plan.data_files(), strict=True
    ):
        file = root / path
        if not file.is_file():
            build = " ".join(data_build_command(task, plan.template, plan.data_dir)[1:])
            raise RunInvalid(f"{plan.run_id}: {key}: {path} does not exist; build it with: python {build}")
        table = pq.read_table(file, columns=["data_source", "extra_info"])
        unknown = set(table.column("data_source").unique().to_pylist()) - set(SCORERS)
        if unknown:
            raise RunInvalid(
                f"{plan.run_id}: {key}: {path} has data_source {sorted(unknown)} that no reward scores; "
                f"known: {', '.join(SCORERS)}"
            )
        templates = {row.get("template") for row in table.column("extra_info").to_pylist()}
        if templates != {plan.template}:
            raise RunInvalid(
                f"{plan.run_id}: {key}: {path} was built with template(s) {sorted(map(str, templates))} but the "
                f"recipe uses template {plan.template!r}: the reward would parse a different answer format"
            )


def validate_plans(plans: Sequence[RunPlan], check_data_files: bool = True) -> None:
    # Runs that differ only in seed differ only in integer seed values: compose each distinct config once.
    composed: set[tuple] = set()
    for plan in plans:
        key = tuple(sorted((k, repr(v)) for k, v in plan.overrides.items() if k not in SEED_KEYS))
        if key not in composed:
            try:
                verl_config.validate(plan.overrides, extra_rollout_names=plan.extra_rollout_names)
            except verl_config.VerlConfigError as error:
                raise RunInvalid(f"{plan.recipe.name}: run {plan.run_id}: {error}") from None
            composed.add(key)
        check_reward_options(plan)
        if check_data_files:
            check_data(plan)


def validate_recipes(names: Iterable[str], check_data_files: bool = True, data_dir: str = DATA_DIR) -> int:
    count = 0
    for name in names:
        plans = compile_recipe(load_recipe(name), data_dir=data_dir)
        validate_plans(plans, check_data_files)
        count += len(plans)
    return count
