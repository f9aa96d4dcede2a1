"""A periodic reference-policy reset without patching verl 0.9.1: the run trains in segments of N steps.

DeepSeek-R1 replaced its KL reference with the current policy every 400 steps (the Nature version of the R1
report); ProRL resets it too (arXiv 2505.24864). verl 0.9.1 has no such option, and its reference worker loads
`actor_rollout_ref.model.path` once, at start-up (workers/engine_workers.py). So a recipe's `ref_reset_every: N`
trains the run in segments: the first from the model to step N; each later one is a relaunch that resumes the
last checkpoint through verl's own resume (actor weights, optimizer, LR scheduler, data order and step count
carry on) with that checkpoint, converted to Hugging Face format, as the model path, which is what the
reference loads. What differs from a run without resets is the reference alone: the KL term measures the
distance from the policy at the segment's start. The optimizer is not reset (ProRL also resets it; R1 does not
say). The current segment's reference lives in `<checkpoints>/<recipe>/<run-id>/reference/global_step_<b>/`
(earlier ones are removed); a run stopped in the middle of a segment resumes that segment with the same
reference.

What the run must be, checked with the plan (`check`, from launch.validate): it has a KL term (otherwise the
reference is never read), a step budget longer than N, checkpoints saved (verl saves a segment's last step),
no LoRA (its reference is the actor without the adapter, not a model path) and an LR schedule that a shorter
step budget does not change (constant; a warmup given in steps), because each segment tells verl its own end.
Each segment ends with a validation (verl validates a run's last step) and none begins with one.

    python -m launch train countdown-ablations --variant ref_reset
    python -m pytest tests/launch/test_ref_reset.py -q
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launch.attempt import AttemptResult, Segment, last_checkpoint_step, run_attempt
from launch.plan import RunPlan

REFERENCE_DIR = "reference"  # under the run's checkpoint dir: the converted checkpoint of each reset
# (checkpoint dir, target dir) -> the last checkpoint in that dir as a Hugging Face model dir at the target.
# launch never imports the conversion (evaluation.checkpoint): the caller hands it in.
ExportModel = Callable[[Path, Path], Path]


class RefResetInvalid(ValueError):
    """A run whose reference reset would not do what it says; the message names the setting."""


@dataclass(frozen=True)
class SegmentPlan:
    start: int  # the checkpoint step the segment resumes from (0: the model itself)
    end: int  # the segment's last step
    last: bool


def segments(every: int, total_steps: int) -> list[SegmentPlan]:
    """The segments of a run of `total_steps` steps with a reset every `every` steps."""
    starts = range(0, total_steps, every)
    return [SegmentPlan(s, min(s + every, total_steps), s + every >= total_steps) for s in starts]


def check(plan: RunPlan, config) -> None:
    """Raises RefResetInvalid when `plan` resets its reference (`ref_reset_every`) and the composed verl
    `config` would make the reset change nothing or change something else too."""
    every = plan.ref_reset_every
    if not every:
        return
    where = f"ref_reset_every {every}"
    actor = config.actor_rollout_ref.actor
    if not (actor.use_kl_loss or config.algorithm.use_kl_in_reward):
        raise RefResetInvalid(
            f"{where}: the run has no KL term (actor_rollout_ref.actor.use_kl_loss and algorithm.use_kl_in_reward "
            "are false), so nothing reads the reference; turn one on or drop ref_reset_every"
        )
    total = config.trainer.total_training_steps
    if total is None or int(total) <= every:
        raise RefResetInvalid(
            f"{where}: trainer.total_training_steps is {total}: a reset needs a step budget longer than {every}"
        )
    if config.trainer.save_freq <= 0:
        raise RefResetInvalid(
            f"{where}: trainer.save_freq must be > 0: each segment resumes the last one's checkpoint"
        )
    if config.actor_rollout_ref.model.lora_rank > 0:
        raise RefResetInvalid(
            f"{where}: with LoRA (actor_rollout_ref.model.lora_rank > 0) verl's reference is the actor without its "
            "adapter, not a model path: a reset cannot move it"
        )
    optimizers = {"actor_rollout_ref.actor.optim": actor.optim}
    if config.algorithm.adv_estimator == "gae":  # the critic's schedule is told the segment's end too
        optimizers["critic.optim"] = config.critic.optim
    for name, optim in optimizers.items():
        # verl: lr_warmup_steps None, 0 or negative defers to lr_warmup_steps_ratio.
        warmup_steps = optim.lr_warmup_steps or -1
        if optim.lr_scheduler_type != "constant" or (warmup_steps <= 0 and optim.lr_warmup_steps_ratio > 0):
            raise RefResetInvalid(
                f"{where}: {name} has lr_scheduler_type {optim.lr_scheduler_type!r}, lr_warmup_steps "
                f"{warmup_steps}, lr_warmup_steps_ratio {optim.lr_warmup_steps_ratio}: each segment tells verl its own last step, which would "
                "reshape this schedule; use a constant schedule, with any warmup given as lr_warmup_steps"
            )


def reference_dir(plan: RunPlan, step: int) -> Path:
    """Where the checkpoint of `step` is kept as the reference of the segment that starts there."""
    return plan.checkpoint_dir / REFERENCE_DIR / f"global_step_{step}"


def next_segment(plan: RunPlan, root: Path) -> SegmentPlan | None:
    """The segment a launch now trains: the one holding the step after the last checkpoint; None when the run
    has reached its last step."""
    total = int(plan.overrides["trainer.total_training_steps"])
    done = last_checkpoint_step(root / plan.checkpoint_dir) or 0
    return next((s for s in segments(plan.ref_reset_every, total) if s.start <= done < s.end), None)


def segment_attempt(plan: RunPlan, root: Path, segment: SegmentPlan, export_model: ExportModel) -> Segment:
    """What the attempt that trains `segment` adds to the plan. A segment that starts at a checkpoint takes it
    as the model path (the reference loads it): converted when the segment first starts, when it is the last
    checkpoint; a relaunch in the middle of the segment reuses that conversion. Earlier segments' references are
    removed (a model's worth of disk each)."""
    overrides: dict[str, Any] = {"trainer.total_training_steps": segment.end}
    record: dict[str, Any] = {"steps": [segment.start + 1, segment.end], "reference": "the model"}
    if segment.start:
        target = root / reference_dir(plan, segment.start)
        if not target.is_dir():
            if last_checkpoint_step(root / plan.checkpoint_dir) != segment.start:
                raise RefResetInvalid(
                    f"{plan.run_id}: the reference for steps {segment.start + 1}-{segment.end} (the checkpoint of "
                    f"step {segment.start}) was not kept in {target} and that checkpoint is no longer the last"
                )
            export_model(root / plan.checkpoint_dir, target)
        for earlier in target.parent.glob("global_step_*"):
            if earlier.name == target.name:
                continue
            if earlier.is_symlink() or not earlier.is_dir():
                earlier.unlink()
            else:
                shutil.rmtree(earlier)
        overrides["actor_rollout_ref.model.path"] = str(target)
        # The previous segment validated this step as its last: no second validation of the same weights.
        overrides["trainer.val_before_train"] = False
        record["reference"] = f"checkpoint of step {segment.start}"
    return Segment(overrides=overrides, record=record, last=segment.last)


def train(
    plan: RunPlan, root: Path, export_model: ExportModel | None = None, **attempt: Any
) -> AttemptResult:
    """A whole run: one attempt (launch.attempt.run_attempt, with `attempt`'s arguments), or, with
    `ref_reset_every`, one attempt per remaining segment until one does not finish or the last one does."""
    if not plan.ref_reset_every:
        return run_attempt(plan, root, **attempt)
    if export_model is None:
        raise RefResetInvalid(f"{plan.run_id}: ref_reset_every needs a checkpoint converter (export_model)")
    result = None
    while (segment := next_segment(plan, root)) is not None:
        result = run_attempt(
            plan, root, segment=segment_attempt(plan, root, segment, export_model), **attempt
        )
        if result.status != "finished":
            return result
        if last_checkpoint_step(root / plan.checkpoint_dir) != segment.end:
            raise RefResetInvalid(
                f"{plan.run_id}: the attempt for steps up to {segment.end} finished without a checkpoint of that step"
            )
    if result is None:
        raise RefResetInvalid(
            f"{plan.run_id}: already trained to its last step ({root / plan.checkpoint_dir} holds it); remove "
            "those checkpoints to train it again"
        )
    return result
