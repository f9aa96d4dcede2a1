"""`make mini`: R1-Zero in miniature on a CPU, end to end: base models, data, the GRPO sweep, the report.

It builds (or reuses, by content hash) the two pre-trained tiny bases of recipes/countdown-mini.yaml (with
and without the planted search prior), builds the countdown-mini split, compiles every run of the recipe
with the CPU backend (launch.cpu_backend) through the same plan -> validate -> attempt -> records path as a
GPU run, and runs them one after another (a run whose record says it finished is kept, not redone); its
command (launch.cli.mini_main) then builds the report under results/countdown-mini/.

    python -m launch mini [--variant grpo] [--seed 1] [--steps N] [--results-dir results]
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

from launch.cpu_backend import CPU_ROLLOUT_NAME, cpu_env, cpu_overrides
from launch.plan import Overlay, RunPlan, compile_run, expand
from launch.recipe import REPO_ROOT, load_recipe
from launch.validate import data_build_command, validate_plans

RECIPE = "countdown-mini"
BASES = {"search": "results/countdown-mini/base/search", "none": "results/countdown-mini/base/none"}
RUN_TIMEOUT_S = 3600


def cpu_overlay(steps: int | None = None, reproduce: str | None = None) -> Overlay:
    """The CPU backend for every run of a CPU recipe; the run ids keep their variant names."""
    patch = {**cpu_overrides(n_ranks=1)}
    if steps is not None:
        patch["trainer.total_training_steps"] = steps
    return Overlay(
        label=None,
        patch=patch,
        env=cpu_env(),
        extra_rollout_names=(CPU_ROLLOUT_NAME,),
        reproduce=reproduce,
    )


def ensure_bases(runs: list[RunPlan], data_dir: str, progress: Callable[[str], None]) -> list[str]:
    """Builds (or reuses) the base models the runs start from; returns the priors whose base failed its gate
    (the card says so; the runs still show what RL does with it). The build's own output goes to stdout."""
    wanted = {plan.model for plan in runs}
    failed_gate = []
    for prior, out in BASES.items():
        if out not in wanted:
            continue
        command = [sys.executable, "-m", "launch.cpu_backend.mini_base", "--out", out, "--prior", prior]
        command += ["--data-dir", data_dir]
        progress(f"base model ({prior} prior): {' '.join(command[1:])}")
        code = subprocess.run(command, cwd=REPO_ROOT).returncode
        if code == 1:
            failed_gate.append(prior)
        elif code != 0:
            raise RuntimeError(f"base model ({prior} prior) did not build (exit {code})")
    return failed_gate


def plans(variant: str | None, seed: int | None, steps: int | None, results_dir: str, data_dir: str):
    """Every selected run of the recipe with the CPU overlay, validated like any run."""
    recipe = load_recipe(RECIPE)
    compiled = []
    for name, point, run_seed in expand(recipe, variant, seed):
        reproduce = f"make mini VARIANT={name} SEED={run_seed}" + (f" STEPS={steps}" if steps else "")
        overlay = cpu_overlay(steps, reproduce)
        compiled.append(
            compile_run(recipe, name, point, run_seed, overlay, data_dir=data_dir, results_root=results_dir)
        )
    return compiled, validate_plans(compiled)


def finished(plan: RunPlan) -> bool:
    from launch.records import read_run_json

    try:
        return read_run_json(REPO_ROOT / plan.run_dir).get("status") == "finished"
    except (OSError, ValueError):
        return False


def run_mini(
    variant: str | None,
    seed: int | None,
    steps: int | None,
    results_dir: str,
    data_dir: str,
    rerun: bool,
    progress: Callable[[str], None],
) -> list[str]:
    """Data, bases and runs (not the report); returns the runs that did not finish, with why."""
    from launch.attempt import run_attempt

    build = data_build_command(RECIPE, "mini", data_dir)
    subprocess.run([*build, "--if-missing"], check=True, cwd=REPO_ROOT)
    runs, configs = plans(variant, seed, steps, results_dir, data_dir)
    for prior in ensure_bases(runs, data_dir, progress):
        progress(f"WARNING: the {prior}-prior base failed its gate (see {BASES[prior]}/README.md)")
    failed = []
    for index, plan in enumerate(runs, 1):
        if finished(plan) and not rerun:
            progress(f"[{index}/{len(runs)}] {plan.run_id}: finished earlier, kept")
            continue
        progress(f"[{index}/{len(runs)}] {plan.run_id}: verl main_ppo on CPU")
        started = time.monotonic()
        result = run_attempt(
            plan,
            REPO_ROOT,
            device="cpu",
            extra_env={"WANDB_MODE": "offline"},
            timeout_s=RUN_TIMEOUT_S,
            config=configs.get(plan.run_id),
            alarm=lambda line: progress(line.strip()),
        )
        progress(f"    {result.status} in {time.monotonic() - started:.0f} s: {REPO_ROOT / plan.run_dir}")
        if result.status != "finished":
            failed.append(f"{plan.run_id} ({result.reason})")
    return failed
