"""The CPU miniature still learns: a short real GRPO run from the committed base raises the rollouts' accuracy,
and the same run with the correctness-independent (random) reward does not.

Both runs go the whole launch path (recipe -> plan -> validate -> attempt -> verl main_ppo with the CPU backend
-> real Countdown reward -> records). Accuracy is scored from the rollout dumps by the real reward, so the
control's is the truth too. MARGIN was chosen from calibration runs of exactly this configuration
(seeds and figures in results/countdown-mini/README.md).

    python -m pytest tests/launch/test_mini_learning.py -q
"""

from __future__ import annotations

import subprocess
from statistics import mean

import pytest

from launch.mini import BASES, cpu_overlay, rollout_accuracy
from launch.plan import compile_run
from launch.recipe import REPO_ROOT, load_recipe
from launch.validate import data_build_command, validate_plans

STEPS = 8
MARGIN = 0.15  # accuracy of the last two steps' rollouts minus the first two's
TIMEOUT_S = 300


def learning_overlay():
    overlay = cpu_overlay(steps=STEPS)
    patch = {
        **overlay.patch,
        # A short run must move within a few steps: the probe's learning rate (../shared/MINI_NOTES.md).
        "actor_rollout_ref.actor.optim.lr": 2.0e-4,
        "trainer.val_before_train": False,
        "trainer.test_freq": -1,
        "trainer.save_freq": -1,
    }
    return type(overlay)(overlay.label, patch, overlay.env, overlay.extra_rollout_names)


def gain(variant: str, seed: int, tmp_path) -> tuple[float, dict[int, float]]:
    data_dir = tmp_path / "data"
    subprocess.run(
        data_build_command("countdown-mini", "mini", str(data_dir)), check=True, capture_output=True
    )
    plan = compile_run(
        load_recipe("countdown-mini"),
        variant,
        {},
        seed,
        learning_overlay(),
        data_dir=str(data_dir),
        results_root=str(tmp_path / "results"),
        checkpoints_root=str(tmp_path / "checkpoints"),
    )
    validate_plans([plan])
    from launch.attempt import run_attempt

    result = run_attempt(
        plan, REPO_ROOT, device="cpu", extra_env={"WANDB_MODE": "disabled"}, timeout_s=TIMEOUT_S, echo=False
    )
    assert result.status == "finished", (
        result.reason,
        (result.run_dir / "stdout.attempt-1.log").read_text()[-3000:],
    )
    accuracy = rollout_accuracy(result.run_dir)
    assert sorted(accuracy) == list(range(1, STEPS + 1))
    steps = sorted(accuracy)
    return mean(accuracy[s] for s in steps[-2:]) - mean(accuracy[s] for s in steps[:2]), accuracy


@pytest.mark.slow
def test_grpo_raises_accuracy(tmp_path):
    assert (REPO_ROOT / BASES["search"] / "model.safetensors").is_file(), (
        "the committed base model is missing"
    )
    rise, accuracy = gain("grpo", 1, tmp_path)
    assert rise >= MARGIN, accuracy


@pytest.mark.slow
def test_random_reward_does_not(tmp_path):
    rise, accuracy = gain("random_reward", 1, tmp_path)
    assert rise < MARGIN, accuracy
