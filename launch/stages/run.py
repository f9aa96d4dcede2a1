"""Validates, renders and runs pipelines: each stage in order, through the code paths single runs use.

An RL stage goes through launch's own path (pre-flight on a GPU, the data built when missing, then
launch.attempt.run_attempt, which writes run.json, metrics and logs in the stage's dir); an SFT stage and the
conversion of a finished stage's last checkpoint into the next stage's model belong to later stages of
ZeroLab (distill, evaluation), which launch never imports: the front door (launch/__main__.py, its HANDOFFS)
passes them in as `LaterStages`. Validation checks every stage of every pipeline before any stage starts: an
RL stage against verl's ppo_trainer config and the GPU estimate (on the base model's architecture: a stage's
model is a checkpoint of it), an SFT stage against verl's SFT trainer config (distill.sft).

    python -m launch pipeline countdown-r1 --dry-run
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_prep.tasks import build_command
from launch.attempt import Echo
from launch.preflight import PreflightError, ensure_data, preflight
from launch.recipe import REPO_ROOT, RecipeError
from launch.ref_reset import train
from launch.stages import state as pipeline_state
from launch.stages.plan import Pipeline, RlStagePlan, SftStagePlan, model_dir
from launch.validate import RunInvalid, check_memory, validate_plans


@dataclass(frozen=True)
class LaterStages:
    """What a pipeline hands to ZeroLab's later stages (filled in by the front door from distill.stage)."""

    # Raises ValueError (VerlConfigError, RecipeError) naming the key; the bool: check the data files too.
    check_sft: Callable[[SftStagePlan, bool], None]
    render_sft: Callable[[SftStagePlan, str], str]  # the stage's teacher, data build and exact SFT command
    # Runs the stage on the device ("gpu"/"cpu"), records in its run_dir; returns its eval metrics.
    run_sft: Callable[[SftStagePlan, str, Echo | None], dict]
    # A stage's checkpoint dir -> its last checkpoint as a Hugging Face model dir at the target path.
    export_model: Callable[[Path, Path], Path]


def _stage_error(pipeline: Pipeline, plan, error: Exception) -> RunInvalid:
    return RunInvalid(f"{pipeline.recipe.name}: {plan.stage.label} of {pipeline.run_id}: {error}")


def validate_pipelines(
    pipelines: Sequence[Pipeline], later: LaterStages, check_data_files: bool = True, check_fit: bool = True
) -> dict:
    """Raises RunInvalid naming the recipe, stage and key for the first stage that must not run; returns
    {stage run id: composed verl config} for the RL stages."""
    configs = {}
    for pipeline in pipelines:
        for plan in pipeline.stages:
            try:
                if isinstance(plan, SftStagePlan):
                    later.check_sft(plan, check_data_files)
                    continue
                if check_fit:
                    check_memory(dataclasses.replace(plan, model=pipeline.base_model))
                configs.update(validate_plans([plan], check_data_files, check_fit=False))
            except (RunInvalid, ValueError) as error:
                raise _stage_error(pipeline, plan, error) from None
    return configs


def render_pipeline(pipeline: Pipeline, later: LaterStages) -> str:
    """Every stage's command, in order, with where its model comes from and where it goes."""
    lines = [
        f"# pipeline {pipeline.run_id}: {len(pipeline.stages)} stage(s) on {pipeline.device}; "
        f"records in {pipeline.run_dir}/"
    ]
    for plan in pipeline.stages:
        stage = plan.stage
        start = plan.model if isinstance(plan, RlStagePlan) else plan.student
        lines.append(
            f"\n## {stage.label}: from {start}\n##   records: {plan.run_dir}/  model after it: {model_dir(plan)}"
        )
        if isinstance(plan, RlStagePlan):
            lines.append(plan.render())
        else:
            lines.append(later.render_sft(plan, pipeline.device).rstrip("\n"))
    return "\n".join(lines) + "\n"


def run_pipeline(
    pipeline: Pipeline,
    later: LaterStages,
    rerun_from: str | None = None,
    echo: Echo | None = None,
    root: Path = REPO_ROOT,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Runs the stages from the first unfinished one (or `rerun_from`) to the end or the first failure;
    returns the pipeline record (pipeline.json), whose `status` is finished, failed or killed."""
    run_dir = root / pipeline.run_dir
    state = pipeline_state.current_state(pipeline, root)
    start = pipeline_state.first_to_run(pipeline, state, rerun_from)
    if rerun_from is not None:
        names = [plan.stage.name for plan in pipeline.stages]
        pipeline_state.clear_for_rerun(pipeline, state, names.index(rerun_from), root)
    state["status"] = "running"
    pipeline_state.write_state(run_dir, state, root)
    for position, plan in enumerate(pipeline.stages[start:], start=start):
        # The recipe's hash with each stage: a record that outlives edits of the recipe says which it ran.
        pipeline_state.mark(state, position, status="running", recipe_sha256=pipeline.recipe.sha256)
        pipeline_state.write_state(run_dir, state, root)
        began = time.monotonic()
        try:
            status, reason, result = _run_stage(pipeline, plan, later, echo, root, timeout_s)
            if status == pipeline_state.FINISHED:
                later.export_model(root / plan.checkpoint_dir, root / model_dir(plan))
        except KeyboardInterrupt:
            pipeline_state.mark(state, position, status="killed", reason="interrupted")
            state["status"] = "killed"
            pipeline_state.write_state(run_dir, state, root)
            raise
        except (RunInvalid, PreflightError, RecipeError, OSError, RuntimeError, ValueError) as error:
            status, reason, result = "failed", f"{type(error).__name__}: {error}", {}
        except Exception as error:  # unforeseen: recorded as the stage's failure, then raised as it is
            pipeline_state.mark(state, position, status="failed", reason=f"{type(error).__name__}: {error}")
            state["status"] = "failed"
            pipeline_state.write_state(run_dir, state, root)
            raise
        pipeline_state.mark(
            state, position, status=status, seconds=round(time.monotonic() - began, 1), **result
        )
        if reason:
            state["stages"][position]["reason"] = reason
        if status != pipeline_state.FINISHED:
            state["status"] = status
            pipeline_state.write_state(run_dir, state, root)
            return state
        pipeline_state.write_state(run_dir, state, root)
    state["status"] = pipeline_state.FINISHED
    pipeline_state.write_state(run_dir, state, root)
    return state


def _run_stage(
    pipeline: Pipeline, plan, later: LaterStages, echo: Echo | None, root: Path, timeout_s: float | None
) -> tuple[str, str | None, dict]:
    """(status, reason, what the pipeline record keeps of it) for one stage, through the single-run paths."""
    if isinstance(plan, SftStagePlan):
        _ensure_splits(plan, root)
        metrics = later.run_sft(plan, pipeline.device, echo)
        kept = {k: metrics[k] for k in ("greedy_acc", "mean@n", "n", "num_prompts") if k in metrics}
        return pipeline_state.FINISHED, None, {"eval": kept}
    if pipeline.device == "gpu":
        preflight(plan, root)
    else:
        ensure_data(plan, root)
    result = train(
        plan,
        root,
        later.export_model,
        device="cuda" if pipeline.device == "gpu" else "cpu",
        extra_env={"WANDB_MODE": "offline"} if pipeline.device == "cpu" else None,
        timeout_s=timeout_s,
        echo=echo,
        alarm=echo,
    )
    return result.status, result.reason, {"attempts": result.attempt}


def _ensure_splits(plan: SftStagePlan, root: Path) -> None:
    """The task's splits an SFT stage samples and evaluates on, built when missing (as an RL stage's are)."""
    command = [*build_command(plan.task, plan.template, plan.data_dir), "--if-missing"]
    if subprocess.run(command, cwd=root).returncode != 0:
        raise PreflightError(f"{plan.run_id}: building the {plan.task} data failed: {' '.join(command[1:])}")
