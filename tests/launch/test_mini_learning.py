"""The CPU miniature still learns: the first steps of a real GRPO run from the committed base make the policy
search more (it pays), and the same run with the correctness-independent (random) reward does not.

Both runs go the whole launch path (recipe -> plan -> validate -> attempt -> verl main_ppo with the CPU backend
-> real Countdown reward -> records), with the recipe's own settings, cut to STEPS steps: so these are the
first steps of the committed runs, and MARGIN comes from them (results/countdown-mini/README.md lists the
figures per seed). The share of sampled responses that search is read from the rollout dumps; it rises as
soon as the reward favours search, while the accuracy of 128 samples per step is too noisy over 10 steps.

    python -m pytest tests/launch/test_mini_learning.py -q
"""

from __future__ import annotations

import json
import subprocess
from statistics import mean

import pytest

from launch.mini import BASES, cpu_overlay
from launch.plan import compile_run
from launch.recipe import REPO_ROOT, load_recipe
from launch.validate import data_build_command, validate_plans
from rewards.behaviour import count_search_steps

STEPS = 10
MARGIN = 0.08  # search share of the last three steps' rollouts minus the first three's
TIMEOUT_S = 420


def search_share_by_step(run_dir) -> dict[int, float]:
    shares = {}
    for path in (run_dir / "rollouts").glob("*.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        shares[int(path.stem)] = mean(count_search_steps(row["output"]) > 0 for row in rows)
    return dict(sorted(shares.items()))


def search_rise(variant: str, tmp_path) -> tuple[float, dict[int, float]]:
    data_dir = tmp_path / "data"
    subprocess.run(
        data_build_command("countdown-mini", "mini", str(data_dir)), check=True, capture_output=True
    )
    plan = compile_run(
        load_recipe("countdown-mini"),
        variant,
        {},
        1,
        cpu_overlay(steps=STEPS),
        data_dir=str(data_dir),
        results_root=str(tmp_path / "results"),
        checkpoints_root=str(tmp_path / "checkpoints"),
    )
    validate_plans([plan])
    from launch.attempt import run_attempt

    result = run_attempt(
        plan, REPO_ROOT, device="cpu", extra_env={"WANDB_MODE": "disabled"}, timeout_s=TIMEOUT_S, echo=False
    )
    log = (result.run_dir / "stdout.attempt-1.log").read_text()
    assert result.status == "finished", (result.reason, log[-3000:])
    shares = search_share_by_step(result.run_dir)
    assert sorted(shares) == list(range(1, STEPS + 1))
    steps = sorted(shares)
    return mean(shares[s] for s in steps[-3:]) - mean(shares[s] for s in steps[:3]), shares


@pytest.mark.slow
def test_grpo_amplifies_search(tmp_path):
    assert (REPO_ROOT / BASES["search"] / "model.safetensors").is_file(), (
        "the committed base model is missing"
    )
    rise, shares = search_rise("grpo", tmp_path)
    assert rise >= MARGIN, shares


@pytest.mark.slow
def test_random_reward_does_not(tmp_path):
    rise, shares = search_rise("random_reward", tmp_path)
    assert rise < MARGIN, shares
