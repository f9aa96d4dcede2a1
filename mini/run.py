"""`make mini`'s runs: the data split, the base models and every run of a miniature recipe on CPU.

It builds the countdown-mini split once, builds (or reuses, by content hash) the pre-trained tiny bases the
recipe's runs start from (mini.BASES: countdown-mini's with and without the planted search prior,
countdown-mini-long's with and without long searches and self-corrections; mini.base) and gates them,
compiles every run of the recipe with the CPU backend (launch.cpu_backend) through the same plan -> validate
-> attempt -> records path as a GPU run, and runs them one after another (a run whose record says it finished is kept, not
redone). `python -m mini` (mini/__main__.py) then builds the report. The rollout is the CPU backend's own
server (`hfcpu`) or verl's vLLM rollout (`vllm`, the vLLM tier's settings: launch/cpu_backend/vllm_cpu.py); a
vLLM run's id names it (`countdown-mini__grpo_vllm__s1`), so it never takes the place of an hfcpu run's record.

    python -m mini [--variant grpo] [--seed 1] [--steps N] [--results-dir results] [--checkpoints-dir checkpoints]
                   [--rollout hfcpu|vllm]
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from data_prep.tasks import build_command, split_path
from launch.cpu_backend import CPU_ROLLOUT_NAME, cpu_env, cpu_overrides
from launch.cpu_backend.vllm_cpu import VLLM_ROLLOUT_NAME, vllm_cpu_env, vllm_cpu_overrides
from launch.plan import CHECKPOINTS_DIR, Overlay, RunPlan, compile_run, expand
from launch.recipe import REPO_ROOT, load_recipe
from launch.validate import validate_plans
from mini import BASES, RECIPE, RECIPES, TASK, TEMPLATE

RUN_TIMEOUT_S = 3600
ROLLOUTS = (CPU_ROLLOUT_NAME, VLLM_ROLLOUT_NAME)  # the first is the default


def rollout_label(variant: str, rollout: str) -> str | None:
    """The run id's variant part for a rollout: hfcpu runs keep the variant's name, others append theirs."""
    return None if rollout == CPU_ROLLOUT_NAME else f"{variant}_{rollout}"


def cpu_overlay(
    steps: int | None = None,
    reproduce: str | None = None,
    rollout: str = CPU_ROLLOUT_NAME,
    label: str | None = None,
) -> Overlay:
    """The CPU backend for every run of a CPU recipe, generating with `rollout`: the CPU backend's server or
    verl's vLLM rollout with exactly the vLLM tier's replacements of GPU settings. `label` (a vLLM run's)
    replaces the variant in the run id."""
    if rollout not in ROLLOUTS:
        raise ValueError(f"rollout {rollout!r}: use one of {', '.join(ROLLOUTS)}")
    vllm = rollout == VLLM_ROLLOUT_NAME
    patch = {**(vllm_cpu_overrides(n_ranks=1) if vllm else cpu_overrides(n_ranks=1))}
    if steps is not None:
        patch["trainer.total_training_steps"] = steps
    return Overlay(
        label=label,
        patch=patch,
        env=vllm_cpu_env() if vllm else cpu_env(),
        extra_rollout_names=() if vllm else (CPU_ROLLOUT_NAME,),
        reproduce=reproduce,
    )


def build_split(data_dir: str) -> Path:
    """The countdown-mini split (kept when already built); returns its test split's path."""
    subprocess.run([*build_command(TASK, TEMPLATE, data_dir), "--if-missing"], check=True, cwd=REPO_ROOT)
    return split_path(data_dir, TASK, TEMPLATE, "test")


def ensure_bases(wanted: set[str], test_split: Path, progress: Callable[[str], None]) -> list[str]:
    """Builds (or reuses) and gates the base models named in `wanted` (the runs' model paths); returns the
    priors whose base fell short of its gate (the card says so; the runs still show what RL does with it)."""
    from mini.base.build import ensure_base, falls_short

    short = []
    for prior, out in BASES.items():
        if out not in wanted:
            continue
        progress(f"base model ({prior} prior): {out}")
        started = time.monotonic()

        def pretrain_step(step: int, loss: float, lr: float, started: float = started) -> None:
            progress(
                f"  pretrain step {step:5d}  loss {loss:.4f}  lr {lr:.2e}  {time.monotonic() - started:6.0f} s"
            )

        _, record, built = ensure_base(REPO_ROOT / out, REPO_ROOT / test_split, prior, progress=pretrain_step)
        verdict = "passed" if record["gate"]["passed"] else "failed"
        progress(f"  {'built' if built else 'reusing'} (hash {record['hash'][:12]}); gate {verdict}")
        if falls_short(record):
            short.append(prior)
    return short


def plans(
    variant: str | None,
    seed: int | None,
    steps: int | None,
    results_dir: str,
    data_dir: str,
    rollout: str = CPU_ROLLOUT_NAME,
    checkpoints_dir: str = CHECKPOINTS_DIR,
    recipe_name: str = RECIPE,
):
    """Every selected run of the recipe with the CPU overlay, validated like any run."""
    if recipe_name not in RECIPES:
        raise ValueError(f"recipe {recipe_name!r} is not a miniature recipe: use one of {', '.join(RECIPES)}")
    recipe = load_recipe(recipe_name)
    compiled = []
    for name, point, run_seed in expand(recipe, variant, seed):
        reproduce = "make mini" + (f" RECIPE={recipe_name}" if recipe_name != RECIPE else "")
        reproduce += f" VARIANT={name} SEED={run_seed}" + (f" STEPS={steps}" if steps else "")
        if rollout != CPU_ROLLOUT_NAME:
            reproduce += f" ROLLOUT={rollout}"
        overlay = cpu_overlay(steps, reproduce, rollout, rollout_label(name, rollout))
        compiled.append(
            compile_run(
                recipe,
                name,
                point,
                run_seed,
                overlay,
                data_dir=data_dir,
                results_root=results_dir,
                checkpoints_root=checkpoints_dir,
            )
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
    rollout: str = CPU_ROLLOUT_NAME,
    checkpoints_dir: str = CHECKPOINTS_DIR,
    recipe_name: str = RECIPE,
) -> list[str]:
    """Data, bases and runs (not the report); returns the runs that did not finish, with why."""
    from distill.stage import export_stage_model
    from launch.ref_reset import RefResetInvalid, train

    test_split = build_split(data_dir)
    runs, configs = plans(variant, seed, steps, results_dir, data_dir, rollout, checkpoints_dir, recipe_name)
    for prior in ensure_bases({plan.model for plan in runs}, test_split, progress):
        progress(f"WARNING: the {prior}-prior base failed its gate (see {BASES[prior]}/README.md)")
    failed = []
    for index, plan in enumerate(runs, 1):
        if finished(plan) and not rerun:
            progress(f"[{index}/{len(runs)}] {plan.run_id}: finished earlier, kept")
            continue
        progress(f"[{index}/{len(runs)}] {plan.run_id}: verl main_ppo on CPU ({rollout} rollout)")
        started = time.monotonic()
        try:
            result = train(
                plan,
                REPO_ROOT,
                export_stage_model,
                device="cpu",
                extra_env={"WANDB_MODE": "offline"},
                timeout_s=RUN_TIMEOUT_S,
                config=configs.get(plan.run_id),
                alarm=lambda line: progress(line.strip()),
            )
        except RefResetInvalid as error:
            failed.append(f"{plan.run_id} ({error})")
            continue
        progress(f"    {result.status} in {time.monotonic() - started:.0f} s: {REPO_ROOT / plan.run_dir}")
        if result.status != "finished":
            failed.append(f"{plan.run_id} ({result.reason})")
    return failed
