"""Compiles a multi-stage recipe into pipelines (one per variant x seed), each an ordered list of stage plans.

One run id per pipeline, `<recipe>__<variant>__s<seed>` as for any run. Its records live under
`results/<recipe>/runs/<run-id>/`: `pipeline.json` (launch.stages.state) and one directory per stage,
`stages/<nn>-<name>/`, holding what a single run (RL) or a distill run (SFT) records today. Its checkpoints live
under `checkpoints/<recipe>/<run-id>/<nn>-<name>/`, and each finished stage's model, converted as `launch eval`
converts a checkpoint, in that stage's `model/`: the path the next stage trains (or samples) from, known when
the pipeline is planned, so the printed plan is exactly what runs.

An RL stage is a launch.plan run (RlStagePlan: the same RunPlan, dirs moved under the pipeline's), validated
as any run is; an SFT stage (SftStagePlan) is handed to distill by the front door (launch.stages.run.LaterStages),
which checks its keys against verl's SFT trainer config.

    python -m launch plan countdown-r1
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from data_prep.tasks import split_path
from launch.cpu_backend import CPU_ROLLOUT_NAME, cpu_env, cpu_overrides
from launch.plan import (
    CHECKPOINTS_DIR,
    DATA_DIR,
    RESULTS_DIR,
    Overlay,
    RunPlan,
    checkpoint_dir,
    compile_run,
    expand,
    run_dir,
    run_id,
)
from launch.recipe import Recipe, RecipeError
from launch.stages.schema import BASE, RL, Stage, stages_of

MODEL_DIR = "model"  # a finished stage's Hugging Face model, under its checkpoint dir
DEVICES = ("gpu", "cpu")


@dataclass(frozen=True)
class RlStagePlan(RunPlan):
    """An RL stage: a run of the recipe whose records and checkpoints live under its pipeline's."""

    pipeline_id: str = ""
    stage: Stage | None = None

    @property
    def run_dir(self) -> Path:
        return run_dir(self.results_root, self.recipe.name, self.pipeline_id) / "stages" / self.stage.dir_name

    @property
    def checkpoint_dir(self) -> Path:
        return checkpoint_dir(self.checkpoints_root, self.recipe.name, self.pipeline_id) / self.stage.dir_name


@dataclass(frozen=True)
class SftStagePlan:
    """An SFT stage: verl's SFT trainer on a file or on traces sampled from `teacher`, then its eval."""

    run_id: str
    recipe: Recipe
    variant: str
    seed: int
    stage: Stage
    student: str  # the model it fine-tunes: the base, or an earlier stage's model dir
    teacher: str | None  # teacher_stage's model dir (rejection sampling); None: `data:` is the SFT set
    task: str
    template: str
    data_dir: str
    train_split: Path  # the prompts a teacher is sampled on
    test_split: Path  # what the fine-tuned model is evaluated on
    build_dir: Path  # where the sampled, filtered traces are written
    run_dir: Path
    checkpoint_dir: Path
    reproduce: str


StagePlan = RlStagePlan | SftStagePlan


@dataclass(frozen=True)
class Pipeline:
    run_id: str
    recipe: Recipe
    variant: str
    seed: int
    base_model: str
    device: str
    stages: tuple[StagePlan, ...]
    run_dir: Path
    checkpoint_dir: Path

    def stage(self, name: str) -> StagePlan:
        return next(plan for plan in self.stages if plan.stage.name == name)


def model_dir(plan: StagePlan) -> Path:
    """Where a finished stage's model is written: `<its checkpoint dir>/model`."""
    return Path(plan.checkpoint_dir) / MODEL_DIR


def pipeline_command(recipe: str, variant: str, seed: int, device: str) -> str:
    return f"python -m launch pipeline {recipe} --variant {variant} --seed {seed}" + (
        " --device cpu" if device == "cpu" else ""
    )


def cpu_overlay() -> Overlay:
    """The CPU backend (launch.cpu_backend) for every RL stage; the SFT stages get its SFT keys from distill."""
    return Overlay(
        label=None, patch=cpu_overrides(n_ranks=1), env=cpu_env(), extra_rollout_names=(CPU_ROLLOUT_NAME,)
    )


def compile_pipeline(
    recipe: Recipe,
    variant: str,
    seed: int,
    *,
    device: str = "gpu",
    data_dir: str = DATA_DIR,
    results_root: str = RESULTS_DIR,
    checkpoints_root: str = CHECKPOINTS_DIR,
    profile: str | None = None,
) -> Pipeline:
    """One pipeline: every stage planned, each starting from the base or an earlier stage's model dir."""
    if device not in DEVICES:
        raise RecipeError(f"device {device!r}: use one of {', '.join(DEVICES)}")
    stages = stages_of(recipe, variant)
    patch = recipe.sweep.variants[variant]
    base_model = patch.get("model", recipe.model)
    pipeline_id = run_id(recipe.name, variant, seed)
    dirs = {"data_dir": data_dir, "results_root": results_root, "checkpoints_root": checkpoints_root}
    reproduce = pipeline_command(recipe.name, variant, seed, device)
    plans: list[StagePlan] = []
    models: dict[str, str] = {}
    for stage in stages:
        start = base_model if stage.start == BASE else models[stage.start]
        try:
            if stage.kind == RL:
                plan = _rl_stage(recipe, variant, seed, stage, start, pipeline_id, device, profile, dirs)
            else:
                teacher = models[stage.teacher_stage] if stage.teacher_stage else None
                plan = _sft_stage(recipe, variant, seed, stage, start, teacher, pipeline_id, dirs)
        except RecipeError as error:
            raise RecipeError(f"{recipe.name}: {stage.label}: {error}") from None
        plans.append(dataclasses.replace(plan, reproduce=reproduce))
        models[stage.name] = str(model_dir(plan))
    return Pipeline(
        run_id=pipeline_id,
        recipe=recipe,
        variant=variant,
        seed=seed,
        base_model=base_model,
        device=device,
        stages=tuple(plans),
        run_dir=run_dir(results_root, recipe.name, pipeline_id),
        checkpoint_dir=checkpoint_dir(checkpoints_root, recipe.name, pipeline_id),
    )


def _rl_stage(
    recipe: Recipe,
    variant: str,
    seed: int,
    stage: Stage,
    start: str,
    pipeline_id: str,
    device: str,
    profile: str | None,
    dirs: dict,
) -> RlStagePlan:
    """launch.plan's run of the recipe with the stage's keys: recipe, stage, variant, the variant's patch of
    the stage, hardware profile, then the CPU backend when on CPU."""
    # The variant's model is the pipeline's base (the stage trains `start`); its stage patches are this stage's.
    variant_patch = {
        k: v for k, v in recipe.sweep.variants[variant].items() if k not in ("stages", "model", "only_stages")
    }
    variant_patch.update({k: v for k, v in stage.variant_patch.items() if k != "reward_kwargs"})
    if "reward_kwargs" in stage.variant_patch:
        variant_patch["reward_kwargs"] = {
            **variant_patch.get("reward_kwargs", {}),
            **stage.variant_patch["reward_kwargs"],
        }
    stage_recipe = recipe.model_copy(
        update={
            "model": start,
            "overrides": {**recipe.overrides, **stage.overrides},
            "reward_kwargs": {**recipe.reward_kwargs, **stage.reward_kwargs},
            "sweep": recipe.sweep.model_copy(update={"variants": {variant: variant_patch}}),
        }
    )
    overlay = cpu_overlay() if device == "cpu" else None
    plan = compile_run(stage_recipe, variant, {}, seed, overlay=overlay, profile=profile, **dirs)
    fields = {f.name: getattr(plan, f.name) for f in dataclasses.fields(RunPlan)}
    staged = RlStagePlan(**fields, pipeline_id=pipeline_id, stage=stage)
    stage_run_dir = staged.run_dir.as_posix()
    moved = {
        "trainer.experiment_name": f"{pipeline_id}__{stage.dir_name}",
        "trainer.default_local_dir": staged.checkpoint_dir.as_posix(),
        "trainer.rollout_data_dir": f"{stage_run_dir}/rollouts",
        "trainer.validation_data_dir": f"{stage_run_dir}/validation",
    }
    return dataclasses.replace(
        staged, run_id=f"{pipeline_id}/{stage.dir_name}", overrides={**plan.overrides, **moved}
    )


def _sft_stage(
    recipe: Recipe,
    variant: str,
    seed: int,
    stage: Stage,
    start: str,
    teacher: str | None,
    pipeline_id: str,
    dirs: dict,
) -> SftStagePlan:
    template = recipe.sweep.variants[variant].get("template", recipe.template)
    pipeline_dir = run_dir(dirs["results_root"], recipe.name, pipeline_id)
    return SftStagePlan(
        run_id=f"{pipeline_id}/{stage.dir_name}",
        recipe=recipe,
        variant=variant,
        seed=seed,
        stage=stage,
        student=start,
        teacher=teacher,
        task=recipe.task,
        template=template,
        data_dir=dirs["data_dir"],
        train_split=split_path(dirs["data_dir"], recipe.task, template, "train"),
        test_split=split_path(dirs["data_dir"], recipe.task, template, "test"),
        build_dir=Path(dirs["data_dir"]) / "stages" / recipe.name / pipeline_id / stage.dir_name,
        run_dir=pipeline_dir / "stages" / stage.dir_name,
        checkpoint_dir=checkpoint_dir(dirs["checkpoints_root"], recipe.name, pipeline_id) / stage.dir_name,
        reproduce="",
    )


def compile_pipelines(
    recipe: Recipe, variants: Sequence[str | None] = (None,), seed: int | None = None, **kwargs
) -> list[Pipeline]:
    """Every pipeline of a multi-stage recipe (variants x seeds), optionally narrowed."""
    pipelines = []
    for variant in variants:
        for name, _, run_seed in expand(recipe, variant, seed):
            pipelines.append(compile_pipeline(recipe, name, run_seed, **kwargs))
    return pipelines
