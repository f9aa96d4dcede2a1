"""`make mini`: R1-Zero in miniature on a CPU, end to end: base models, data, the GRPO sweep, the report.

It builds (or reuses, by content hash) the two pre-trained tiny bases of recipes/countdown-mini.yaml (with
and without the planted search prior), builds the countdown-mini split, compiles every run of the recipe
with the CPU backend (launch.cpu_backend) through the same plan -> validate -> attempt -> records path as a
GPU run, runs them one after another (a run whose record says it finished is kept, not redone), and builds
the report under results/countdown-mini/.

    python -m launch mini [--variant grpo] [--seed 1] [--steps N] [--results-dir results]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

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


def ensure_bases(runs: list[RunPlan], data_dir: str) -> None:
    """Builds (or reuses) the base models the runs start from."""
    wanted = {plan.model for plan in runs}
    for prior, out in BASES.items():
        if out not in wanted:
            continue
        command = [sys.executable, "-m", "launch.cpu_backend.mini_base", "--out", out, "--prior", prior]
        command += ["--data-dir", data_dir]
        print(f"=== mini: base model ({prior} prior): {' '.join(command[1:])}", flush=True)
        code = subprocess.run(command, cwd=REPO_ROOT).returncode
        if code == 1:  # built, gate failed: the card says so; the runs still show what RL does with it
            print(
                f"=== mini: WARNING: the {prior}-prior base failed its gate (see {out}/README.md)", flush=True
            )
        elif code != 0:
            raise RuntimeError(f"base model ({prior} prior) did not build (exit {code})")


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
    validate_plans(compiled)
    return compiled


def finished(plan: RunPlan) -> bool:
    from launch.records import read_run_json

    try:
        return read_run_json(REPO_ROOT / plan.run_dir).get("status") == "finished"
    except (OSError, ValueError):
        return False


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m launch mini", description=__doc__.split("\n")[0])
    parser.add_argument("--variant", help="only this variant (default: all)")
    parser.add_argument("--seed", type=int, help="only this seed (default: all)")
    parser.add_argument("--steps", type=int, help="GRPO steps per run (default: the recipe's)")
    parser.add_argument("--results-dir", default="results", help="where run records and the report go")
    parser.add_argument("--data-dir", default="data", help="where the countdown-mini split is built")
    parser.add_argument("--rerun", action="store_true", help="run again even runs whose record says finished")
    args = parser.parse_args(argv)
    try:
        build = data_build_command("countdown-mini", "mini", args.data_dir)
        subprocess.run([*build, "--if-missing"], check=True, cwd=REPO_ROOT)
        runs = plans(args.variant, args.seed, args.steps, args.results_dir, args.data_dir)
        ensure_bases(runs, args.data_dir)
    except (RuntimeError, ValueError, subprocess.CalledProcessError) as error:
        print(f"mini: error: {error}", file=sys.stderr)
        return 1
    from launch.attempt import run_attempt

    failed = []
    for index, plan in enumerate(runs, 1):
        if finished(plan) and not args.rerun:
            print(f"=== mini: [{index}/{len(runs)}] {plan.run_id}: finished earlier, kept", flush=True)
            continue
        print(f"=== mini: [{index}/{len(runs)}] {plan.run_id}: verl main_ppo on CPU", flush=True)
        started = time.monotonic()
        result = run_attempt(
            plan,
            REPO_ROOT,
            device="cpu",
            extra_env={"WANDB_MODE": "offline"},
            timeout_s=RUN_TIMEOUT_S,
            echo=False,
        )
        print(
            f"    {result.status} in {time.monotonic() - started:.0f} s: {REPO_ROOT / plan.run_dir}",
            flush=True,
        )
        if result.status != "finished":
            failed.append(f"{plan.run_id} ({result.reason})")
    from reporting.report import build_report

    report = build_report(RECIPE, results_dir=args.results_dir)
    print(f"=== mini: report {report.summary}")
    if failed:
        print("mini: runs that did not finish: " + "; ".join(failed), file=sys.stderr)
    return 1 if failed else 0
