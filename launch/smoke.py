"""`make smoke`: the whole pipeline on CPU, through the same code path as a GPU run, with a tiny local model.

It builds a small Countdown set with data_prep, a random-weight tiny model with a locally trained tokenizer,
compiles the `countdown-3b` recipe's default variant with a CPU overlay (the tiny model, the CPU backend of
launch.cpu_backend, small batches), validates it like any run, runs verl's real `main_ppo` for a few GRPO steps
with the real reward, the file logger and offline wandb, then builds the report. Everything lands under
`outputs/smoke/` (git-ignored) in the results layout of a real run. Running it again with more `--steps`
resumes the same run from its last checkpoint.

    python -m launch smoke [--steps 2] [--out outputs/smoke]      (the CLI: launch/cli.py smoke_main)
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from data_prep.tasks import build_command
from launch.attempt import AttemptResult, run_attempt
from launch.cpu_backend import CPU_ROLLOUT_NAME, cpu_env, cpu_overrides
from launch.plan import Overlay, RunPlan, compile_run
from launch.recipe import REPO_ROOT, load_recipe
from launch.validate import validate_plans

RECIPE = "countdown-3b"
VARIANT = "default"
TRAIN_PROBLEMS, TEST_PROBLEMS = 64, 16
# Bounds per stage: a stage past its bound is a hang, reported by name.
DATA_TIMEOUT_S = 120
TRAINER_TIMEOUT_S = 600


def smoke_overlay(model_dir: Path, steps: int) -> Overlay:
    patch = {
        "model": str(model_dir),
        "data.train_batch_size": 4,
        "actor_rollout_ref.actor.ppo_mini_batch_size": 4,
        "actor_rollout_ref.rollout.n": 2,
        # The tiny tokenizer (512 tokens) cuts the base prompt into several times more tokens than Qwen's.
        "data.max_prompt_length": 1024,
        "data.max_response_length": 32,
        "trainer.total_training_steps": steps,
        "trainer.val_before_train": True,
        "trainer.test_freq": steps,
        "trainer.save_freq": 1,
        "trainer.max_actor_ckpt_to_keep": 1,
        **cpu_overrides(n_ranks=1),
    }
    return Overlay(
        label="smoke",
        patch=patch,
        env=cpu_env(),
        extra_rollout_names=(CPU_ROLLOUT_NAME,),
        reproduce=f"make smoke  # CPU, tiny model: python -m launch smoke --steps {steps}",
    )


def _quiet(stage: str) -> None:
    pass


def prepare(out: Path, steps: int, stage: Callable[[str], None] = _quiet):
    """Data, model and the validated plan of the smoke run (everything before the trainer starts); returns
    the plan and its composed verl config. `stage` is told the name of each stage as it starts."""
    from launch.cpu_backend.tiny_model import build_tiny_model

    data_dir = out / "data"
    stage(f"building {TRAIN_PROBLEMS}+{TEST_PROBLEMS} Countdown problems with data_prep")
    build = build_command("countdown", "base", str(data_dir))
    build += ["--train-size", str(TRAIN_PROBLEMS), "--test-size", str(TEST_PROBLEMS), "--if-missing"]
    try:
        subprocess.run(build, check=True, timeout=DATA_TIMEOUT_S, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"stage 'data' hung: {' '.join(build)} took over {DATA_TIMEOUT_S} s") from None
    stage("building the tiny local model (random weights, locally trained tokenizer)")
    model_dir = build_tiny_model(out / "model")
    stage(f"compiling and validating {RECIPE} ({VARIANT}) with the CPU overlay")
    recipe = load_recipe(RECIPE)
    plan = compile_run(
        recipe,
        VARIANT,
        {},
        recipe.sweep.seeds[0],
        overlay=smoke_overlay(model_dir, steps),
        data_dir=str(data_dir),
        results_root=str(out / "results"),
        checkpoints_root=str(out / "checkpoints"),
    )
    config = validate_plans([plan])[plan.run_id]
    return plan, config


def run_smoke(
    out: Path,
    steps: int,
    timeout_s: float = TRAINER_TIMEOUT_S,
    echo: Callable[[str], None] | None = None,
    stage: Callable[[str], None] = _quiet,
) -> tuple[RunPlan, AttemptResult, float]:
    """The smoke run's data, model, plan and trainer; returns the plan, the attempt and its wall seconds."""
    plan, config = prepare(out, steps, stage)
    stage(f"running verl's main_ppo on CPU for {steps} GRPO step(s) (run {plan.run_id})")
    started = time.monotonic()
    result = run_attempt(
        plan,
        REPO_ROOT,
        device="cpu",
        extra_env={"WANDB_MODE": "offline"},
        timeout_s=timeout_s,
        echo=echo,
        config=config,
        alarm=echo,
    )
    return plan, result, time.monotonic() - started
