"""A recipe's `distill:` section: the teacher, the sampling and filters, the student's verl SFT keys, the eval.

A recipe with this section is a distillation recipe: each run (variant x seed, run ids and dirs from launch.plan
as for RL runs) samples the training split from the teacher, keeps what the rule reward accepts, fine-tunes the run's
student (the recipe's `model`, or a variant's) with verl's SFT trainer and evaluates it on the test split.
The teacher is a model (`teacher:`) or an RL run of another shipped recipe (`teacher_run:`), whose last
checkpoint (`latest_checkpointed_iteration.txt`) is taken when the run starts. Runs of one seed share one
data build, so every student learns from the same traces. Validation composes every run's SFT keys against
verl's sft_trainer_engine config (distill.sft) and checks the teacher run exists; it needs no GPU.

    python -m distill validate countdown-distill
    python -m launch distill run countdown-distill --variant qwen2.5-0.5b --seed 1
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from data_prep.tasks import split_path
from distill.schema import DistillSection, SftDataSection, section_of
from launch.attempt import CHECKPOINT_TRACKER, last_checkpoint_step
from launch.plan import checkpoint_dir, run_dir, run_id

# What a distillation variant may change: the student (and the template its prompts are built with).
DISTILL_PATCHABLE = ("model", "template")


@dataclass(frozen=True)
class DistillRun:
    run_id: str
    recipe: str
    variant: str
    student: str
    template: str
    seed: int
    train_split: Path
    test_split: Path
    build_dir: Path
    checkpoint_dir: Path
    run_dir: Path
    section: DistillSection | SftDataSection  # the latter: SFT on a prepared file (no teacher)


def distill_runs(
    recipe,
    variant: str | None = None,
    seed: int | None = None,
    *,
    data_dir: str = "data",
    results_root: str = "results",
    checkpoints_root: str = "checkpoints",
) -> list[DistillRun]:
    """Every run of a distillation recipe (optionally one variant / seed)."""
    from launch.recipe import RecipeError

    section = section_of(recipe)
    variants = recipe.sweep.variants
    if variant is not None and variant not in variants:
        raise RecipeError(f"{recipe.name} has no variant {variant!r}; variants: {', '.join(variants)}")
    if seed is not None and seed < 0:  # any other seed runs, as in launch.plan.expand
        raise RecipeError(f"{recipe.name}: seed {seed} is negative; seeds are whole numbers >= 0")
    runs = []
    for name, patch in variants.items():
        if variant is not None and name != variant:
            continue
        extra = sorted(set(patch) - set(DISTILL_PATCHABLE))
        if extra:
            raise RecipeError(
                f"{recipe.path}: variant {name!r} sets {', '.join(extra)}; a distillation variant may set only "
                f"{', '.join(DISTILL_PATCHABLE)} (SFT keys live in distill.sft)"
            )
        template = patch.get("template", recipe.template)
        for run_seed in recipe.sweep.seeds if seed is None else [seed]:
            name_of_run = run_id(recipe.name, name, run_seed)
            runs.append(
                DistillRun(
                    run_id=name_of_run,
                    recipe=recipe.name,
                    variant=name,
                    student=patch.get("model", recipe.model),
                    template=template,
                    seed=run_seed,
                    train_split=split_path(data_dir, recipe.task, template, "train"),
                    test_split=split_path(data_dir, recipe.task, template, "test"),
                    build_dir=Path(data_dir) / "distill" / f"{recipe.name}__{template}__s{run_seed}",
                    checkpoint_dir=checkpoint_dir(checkpoints_root, recipe.name, name_of_run),
                    run_dir=run_dir(results_root, recipe.name, name_of_run),
                    section=section,
                )
            )
    return runs


def teacher_checkpoint_dir(teacher_run: str, checkpoints_root: str = "checkpoints") -> Path:
    """checkpoints/<recipe>/<run-id>/, after checking the run id is a run of that shipped recipe."""
    from launch.plan import compile_recipe
    from launch.recipe import RecipeError, load_recipe

    recipe_name = teacher_run.split("__", 1)[0]
    plans = compile_recipe(load_recipe(recipe_name), checkpoints_root=checkpoints_root)
    match = [plan for plan in plans if plan.run_id == teacher_run]
    if not match:
        known = ", ".join(plan.run_id for plan in plans[:4])
        raise RecipeError(f"teacher_run {teacher_run!r} is not a run of {recipe_name} (e.g. {known})")
    return match[0].checkpoint_dir


def resolve_teacher(section: DistillSection, checkpoints_root: str = "checkpoints") -> str:
    """The teacher as `launch eval` takes it: the model, or the RL run's last global_step_N/actor."""
    if section.teacher is not None:
        return section.teacher
    run_dir = teacher_checkpoint_dir(section.teacher_run, checkpoints_root)
    step = last_checkpoint_step(run_dir)
    if step is None:
        raise FileNotFoundError(
            f"teacher run {section.teacher_run} has no checkpoint yet ({run_dir / CHECKPOINT_TRACKER} is missing): "
            f"train it first with `python -m launch train {section.teacher_run.split('__', 1)[0]}`"
        )
    return str(run_dir / f"global_step_{step}" / "actor")
