"""Validates recipes before any GPU is touched: every run composed against the pinned verl, plus the data.

For each run: verl's Hydra schema and its own checks (launch.verl_config), a reference reset's conditions
(launch.ref_reset), the reward options against the
reward registry, the estimated peak GPU memory within the profile's GPU (launch.estimate), the data files present, their `data_source` values known to the reward registry, and the
rows built with the prompt template the recipe names (so the reward parses what the prompt asked for).
Errors name the recipe, the run and the key.

    python -m launch validate [RECIPE ...] [--data-dir data] [--no-data-check]   (launch.cli)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from data_prep.tasks import build_command, get_task
from data_prep.templates import get_template
from launch import ref_reset, verl_config
from launch.plan import DATA_DIR, SEED_KEYS, RunPlan, compile_recipe
from launch.recipe import REPO_ROOT, RecipeError, load_recipe

# check_split's label for a recipe's template: its error then names the recipe and what it would break.
RECIPE_TEMPLATE = "the recipe's template"


class RunInvalid(ValueError):
    """A run that must not launch; the message names the recipe, the run and what is wrong."""


def check_reward_options(plan: RunPlan) -> None:
    from rewards.options import parse_options

    try:
        parse_options(plan.reward_kwargs)
    except (TypeError, ValueError) as error:
        raise RunInvalid(f"{plan.run_id}: reward_kwargs: {error}") from None


@dataclass(frozen=True)
class Split:
    path: Path
    template: str  # the prompt template its rows were built with
    num_rows: int


def check_split(
    path: Path, task: str, template: str | None, task_label: str = "task", template_label: str = "template"
) -> Split:
    """The one data check, for training, validation and evaluation splits alike: every row's data_source is
    one the task declares (so the reward scores it as that task), and one known prompt template built every
    row, `template` when given (so the reward parses the answer format the prompt asked for). The labels
    name where task and template came from in the error (a recipe, or eval's --task/--template)."""
    import pyarrow.parquet as pq

    declared = get_task(task)
    table = pq.read_table(path, columns=["data_source", "extra_info"])
    sources = set(table.column("data_source").unique().to_pylist())
    if not sources <= set(declared.data_sources):
        raise RunInvalid(
            f"{path} holds data_source {sorted(sources)}, not {task_label} {task} "
            f"(data_source {', '.join(declared.data_sources)})"
        )
    templates = {
        row.get("template") if isinstance(row, dict) else None
        for row in table.column("extra_info").to_pylist()
    }
    if template is not None and template_label == RECIPE_TEMPLATE and templates != {template}:
        raise RunInvalid(
            f"{path} was built with template(s) {sorted(map(str, templates))} but the recipe uses template "
            f"{template!r}: the reward would parse a different answer format"
        )
    if len(templates) != 1 or None in templates:
        raise RunInvalid(
            f"{path} rows must name one prompt template in extra_info.template; found {templates}"
        )
    (built_with,) = templates
    if template is not None and template != built_with:
        raise RunInvalid(
            f"{path} was built with template {built_with!r}, not {template_label} {template!r}: "
            "the reward would parse a different answer format"
        )
    get_template(built_with)  # an unknown template is an error naming the known ones
    return Split(path, built_with, table.num_rows)


def check_data(plan: RunPlan, root: Path = REPO_ROOT) -> None:
    tasks = [plan.task, *plan.val_tasks]
    for key, task, path in zip(
        ["data.train_files", *["data.val_files"] * len(plan.val_tasks)], tasks, plan.data_files(), strict=True
    ):
        file = root / path
        if not file.is_file():
            build = " ".join(build_command(task, plan.template, plan.data_dir)[1:])
            raise RunInvalid(f"{plan.run_id}: {key}: {path} does not exist; build it with: python {build}")
        try:
            check_split(file, task, plan.template, template_label=RECIPE_TEMPLATE)
        except RunInvalid as problem:
            raise RunInvalid(f"{plan.run_id}: {key}: {problem}") from None


def check_memory(plan: RunPlan, gpu_memory_gb: float | None = None) -> None:
    """Refuses a run whose estimated peak exceeds its profile's GPU (or `gpu_memory_gb`): launch.estimate."""
    from launch.estimate import DoesNotFit, check_fits

    try:
        check_fits(plan, gpu_memory_gb)
    except DoesNotFit as error:
        raise RunInvalid(f"{plan.recipe.name}: run {plan.run_id}: {error}") from None


def validate_plans(
    plans: Sequence[RunPlan], check_data_files: bool = True, check_fit: bool = True, root: Path = REPO_ROOT
) -> dict:
    """Raises RunInvalid for the first run that must not launch; returns {run id: composed verl config} for
    the runs it composed, with paths resolved under `root` as the attempt executes them, so an attempt
    that follows writes that config rather than composing it again."""
    # Runs that differ only in seed differ only in integer seed values: compose each distinct config once.
    composed: set[tuple] = set()
    configs = {}
    for plan in plans:
        if check_fit:  # arithmetic only: before the slower composition
            check_memory(plan)
        key = tuple(sorted((k, repr(v)) for k, v in plan.overrides.items() if k not in SEED_KEYS))
        if key not in composed:
            try:
                configs[plan.run_id] = verl_config.validate(
                    plan.resolved_overrides(root), extra_rollout_names=plan.extra_rollout_names
                )
                ref_reset.check(plan, configs[plan.run_id])
            except (verl_config.VerlConfigError, ref_reset.RefResetInvalid) as error:
                raise RunInvalid(f"{plan.recipe.name}: run {plan.run_id}: {error}") from None
            composed.add(key)
        check_reward_options(plan)
        if check_data_files:
            check_data(plan, root)
    return configs


def validate_recipes(
    names: Iterable[str], check_data_files: bool = True, data_dir: str = DATA_DIR, profile: str | None = None
) -> int:
    count = 0
    for name in names:
        recipe = load_recipe(name)
        if recipe.distill is not None:
            raise RecipeError(
                f"{recipe.name} is a distillation recipe: its runs are SFT runs, checked by distill.plan"
            )
        if recipe.stages is not None:
            raise RecipeError(
                f"{recipe.name} is a multi-stage recipe: its stages are checked by launch.stages"
            )
        plans = compile_recipe(recipe, data_dir=data_dir, profile=profile)
        validate_plans(plans, check_data_files)
        count += len(plans)
    return count
