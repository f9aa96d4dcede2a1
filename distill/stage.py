"""A multi-stage recipe's SFT stages (launch/stages/) as distill runs, and each stage's model for the next.

An SFT stage is written as a `distill:` section: with `data:` it fine-tunes on that SFT parquet (R1's cold
start), with `teacher_stage:` it samples the training split from that earlier stage's model and keeps what
the rule reward accepts (R1's rejection sampling), exactly as `distill run` does, then fine-tunes the stage's
model with verl's SFT trainer (distill.sft) and evaluates it. `export_stage_model` turns a finished stage's
last checkpoint into the Hugging Face dir the next stage starts from, converted as `launch eval` converts a
checkpoint (evaluation.checkpoint). The front door hands these to launch as `LaterStages`
(launch/__main__.py HANDOFFS): launch never imports distill.

    python -m launch pipeline countdown-r1 --dry-run
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pydantic import ValidationError

from distill.plan import render_run, run_distill, run_options, run_sft_overrides
from distill.recipe import DistillRun
from distill.schema import DistillSection, SftDataSection
from distill.sft import last_checkpoint, validate_sft
from evaluation.checkpoint import resolve_model
from launch.attempt import Echo, last_checkpoint_step
from launch.recipe import RecipeError
from launch.stages.plan import SftStagePlan
from launch.stages.run import LaterStages


def stage_section(plan: SftStagePlan) -> DistillSection | SftDataSection:
    """The stage's fields as distill's section, the teacher being `teacher_stage`'s model dir."""
    body = dict(plan.stage.section)
    sources = [key for key in ("data", "teacher", "teacher_run") if key in body]
    if plan.teacher is not None:
        sources.append("teacher_stage")
        body["teacher"] = plan.teacher
    if len(sources) != 1:
        raise RecipeError(
            "an sft stage's traces come from exactly one of data: (an SFT parquet) and teacher_stage: (sampled "
            f"from an earlier stage's model); it names {', '.join(sources) or 'neither'}"
        )
    model = SftDataSection if "data" in body else DistillSection
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise RecipeError(
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        ) from None


def distill_run(plan: SftStagePlan) -> DistillRun:
    return DistillRun(
        run_id=plan.run_id,
        recipe=plan.recipe.name,
        variant=plan.variant,
        student=plan.student,
        template=plan.template,
        seed=plan.seed,
        train_split=plan.train_split,
        test_split=plan.test_split,
        build_dir=plan.build_dir,
        checkpoint_dir=plan.checkpoint_dir,
        run_dir=plan.run_dir,
        section=stage_section(plan),
    )


def check_sft_stage(plan: SftStagePlan, check_data_files: bool = True) -> None:
    """The stage's options and every SFT key against verl's sft_trainer_engine config; the splits it reads."""
    run = distill_run(plan)
    sampled = isinstance(run.section, DistillSection)
    if sampled:
        run_options(run)
    validate_sft(run_sft_overrides(run))
    if check_data_files:
        for split in [run.train_split] * sampled + [run.test_split]:
            if not split.is_file():
                raise RecipeError(
                    f"{split} does not exist; build it with "
                    f"`python -m data_prep {plan.task} --out {split.parent} --template {plan.template}`"
                )


def render_sft_stage(plan: SftStagePlan, device: str) -> str:
    return render_run(distill_run(plan), device)


def run_sft_stage(plan: SftStagePlan, device: str, echo: Echo | None = None) -> dict:
    """The stage as a distill run, its records in the stage's dir. The pipeline decides whether it runs
    (launch.stages.state), so its build and records are replaced here (force)."""
    run = distill_run(plan)
    if isinstance(run.section, SftDataSection) and not Path(run.section.data).is_file():
        raise FileNotFoundError(
            f"{plan.run_id}: the SFT data {run.section.data} does not exist; the recipe's comments say how to build it"
        )
    return run_distill(run, plan.recipe, device, force=True, echo=echo, reproduce=plan.reproduce)


def export_stage_model(checkpoint_dir: Path, target: Path) -> Path:
    """The last checkpoint under a stage's checkpoint dir as a Hugging Face model dir at `target`: an RL
    stage's (`latest_checkpointed_iteration.txt` -> global_step_N/actor) merged there by verl's model merger; an
    SFT stage's, saved with its Hugging Face weights, linked there (no copy of the weights)."""
    step = last_checkpoint_step(checkpoint_dir)
    step_dir = checkpoint_dir / f"global_step_{step}" if step is not None else last_checkpoint(checkpoint_dir)
    resolved = Path(resolve_model(str(step_dir), merge_dir=target).path)
    if resolved.resolve() != target.resolve():
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        target.symlink_to(os.path.relpath(resolved, target.parent), target_is_directory=True)
    return target


def later_stages() -> LaterStages:
    return LaterStages(
        check_sft=check_sft_stage,
        render_sft=render_sft_stage,
        run_sft=run_sft_stage,
        export_model=export_stage_model,
    )
