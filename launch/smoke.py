"""`make smoke`: the whole pipeline on CPU, through the same code path as a GPU run, with a tiny local model.

It builds a small Countdown set with data_prep, a random-weight tiny model with a locally trained tokenizer,
compiles the `countdown-3b` recipe's default variant with a CPU overlay (the tiny model, the CPU backend of
launch.cpu_backend, small batches), validates it like any run, runs verl's real `main_ppo` for a few GRPO steps
with the real reward, the file logger and offline wandb, then builds the report. Everything lands under
`outputs/smoke/` (git-ignored) in the results layout of a real run. Running it again with more `--steps`
resumes the same run from its last checkpoint. `--rollout vllm` swaps the CPU backend's generation server for
verl's own vLLM rollout (needs the vLLM tier's environment, .venv-vllm: launch/cpu_backend/vllm_cpu.py), with
the GPU recipe's rollout settings except the ones a CPU cannot take; `--recipe debug` smokes the debug recipe.

    python -m launch smoke [--steps 2] [--out outputs/smoke]      (the CLI: launch/cli.py smoke_main)
    .venv-vllm/bin/python -m launch smoke --rollout vllm
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from data_prep.tasks import build_command
from launch.attempt import AttemptResult, run_attempt
from launch.cpu_backend import CPU_ROLLOUT_NAME, cpu_env, cpu_overrides
from launch.cpu_backend.vllm_cpu import TINY_MODEL_SHAPE, VLLM_ROLLOUT_NAME, vllm_cpu_env, vllm_cpu_overrides
from launch.plan import Overlay, RunPlan, compile_run
from launch.recipe import REPO_ROOT, load_recipe
from launch.validate import validate_plans

RECIPE = "countdown-3b"
RECIPES = ("countdown-3b", "debug")  # GPU recipes with a `default` variant the smoke can shrink
VARIANT = "default"
ROLLOUTS = (CPU_ROLLOUT_NAME, VLLM_ROLLOUT_NAME)
TRAIN_PROBLEMS, TEST_PROBLEMS = 64, 16
# Bounds per stage: a stage past its bound is a hang, reported by name.
DATA_TIMEOUT_S = 120
TRAINER_TIMEOUT_S = 600


def smoke_overlay(
    model_dir: Path, steps: int, rollout: str = CPU_ROLLOUT_NAME, extra: dict | None = None
) -> Overlay:
    """The smoke's sizes and the CPU backend over a GPU recipe; `extra` (verl keys) goes on top."""
    if rollout not in ROLLOUTS:
        raise ValueError(f"rollout {rollout!r}: use one of {', '.join(ROLLOUTS)}")
    vllm = rollout == VLLM_ROLLOUT_NAME
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
        **(vllm_cpu_overrides(n_ranks=1) if vllm else cpu_overrides(n_ranks=1)),
        **(extra or {}),
    }
    return Overlay(
        label="smoke",
        patch=patch,
        env=vllm_cpu_env() if vllm else cpu_env(),
        extra_rollout_names=() if vllm else (CPU_ROLLOUT_NAME,),
        reproduce=f"make smoke  # CPU, tiny model: python -m launch smoke --steps {steps} --rollout {rollout}",
    )


def _quiet(stage: str) -> None:
    pass


def prepare(
    out: Path,
    steps: int,
    stage: Callable[[str], None] = _quiet,
    *,
    recipe_name: str = RECIPE,
    rollout: str = CPU_ROLLOUT_NAME,
    extra: dict | None = None,
):
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
    # vLLM's CPU attention takes head sizes of 32 and up: two heads of 32 over the same width.
    model_dir = (
        build_tiny_model(out / "model-vllm", **TINY_MODEL_SHAPE)
        if rollout == VLLM_ROLLOUT_NAME
        else build_tiny_model(out / "model")
    )
    stage(f"compiling and validating {recipe_name} ({VARIANT}) with the CPU overlay ({rollout} rollout)")
    recipe = load_recipe(recipe_name)
    plan = compile_run(
        recipe,
        VARIANT,
        {},
        recipe.sweep.seeds[0],
        overlay=smoke_overlay(model_dir, steps, rollout, extra),
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
    *,
    recipe_name: str = RECIPE,
    rollout: str = CPU_ROLLOUT_NAME,
    extra: dict | None = None,
) -> tuple[RunPlan, AttemptResult, float]:
    """The smoke run's data, model, plan and trainer; returns the plan, the attempt and its wall seconds."""
    plan, config = prepare(out, steps, stage, recipe_name=recipe_name, rollout=rollout, extra=extra)
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
