"""The miniature's learning probe: the first steps of a countdown-mini run, and how much more its policy searches.

A short GRPO run from the committed base goes the whole launch path (recipe -> plan -> validate -> attempt ->
verl main_ppo with the CPU backend -> real Countdown reward -> records) with the recipe's own settings, cut
to `steps`. Its signal is the share of sampled responses that search (read from the rollout dumps): it rises
as soon as the reward favours search, while the accuracy of 128 samples per step is too noisy over 10 steps.
The probe skips validation (it reads rollouts only). The CI learning test asserts on the fitted rise;
benchmarks/calibrate_mini_probe.py measures it over seeds.

    python benchmarks/calibrate_mini_probe.py --seeds 1 2 --variants grpo
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import linear_regression, mean

from data_prep.tasks import build_command
from launch.plan import compile_run
from launch.recipe import REPO_ROOT, load_recipe
from launch.validate import validate_plans
from mini import RECIPE, TASK, TEMPLATE
from mini.run import cpu_overlay
from rewards.behaviour import count_search_steps

NO_VALIDATION = {"trainer.val_before_train": False, "trainer.test_freq": -1}


@dataclass(frozen=True)
class ProbeResult:
    status: str
    reason: str | None
    shares: dict[int, float]  # step -> share of that step's sampled responses that search
    log_tail: str

    @property
    def rise(self) -> float:
        """The least-squares line's rise from the first step to the last: less noisy than comparing the ends
        (each step's share comes from 128 samples, about +-0.04)."""
        steps = sorted(self.shares)
        slope, _ = linear_regression(steps, [self.shares[s] for s in steps])
        return slope * (steps[-1] - steps[0])


def search_share_by_step(run_dir: Path) -> dict[int, float]:
    shares = {}
    for path in (run_dir / "rollouts").glob("*.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        shares[int(path.stem)] = mean(count_search_steps(row["output"]) > 0 for row in rows)
    return dict(sorted(shares.items()))


def probe(variant: str, seed: int, steps: int, work_dir: Path, timeout_s: float) -> ProbeResult:
    """Run `steps` steps of the recipe's `variant` with `seed`; data, records and checkpoints under work_dir."""
    from launch.attempt import run_attempt

    data_dir = work_dir / "data"
    overlay = cpu_overlay(steps=steps)
    subprocess.run(
        [*build_command(TASK, TEMPLATE, str(data_dir)), "--if-missing"], check=True, capture_output=True
    )
    plan = compile_run(
        load_recipe(RECIPE),
        variant,
        {},
        seed,
        replace(overlay, patch={**overlay.patch, **NO_VALIDATION}),
        data_dir=str(data_dir),
        results_root=str(work_dir / "results"),
        checkpoints_root=str(work_dir / "checkpoints"),
    )
    configs = validate_plans([plan])
    result = run_attempt(
        plan,
        REPO_ROOT,
        device="cpu",
        extra_env={"WANDB_MODE": "disabled"},
        timeout_s=timeout_s,
        config=configs.get(plan.run_id),
    )
    log = result.run_dir / "stdout.attempt-1.log"
    return ProbeResult(
        status=result.status,
        reason=result.reason,
        shares=search_share_by_step(Path(result.run_dir)),
        log_tail=log.read_text()[-3000:] if log.is_file() else "",
    )
