"""CI's two real verl steps of every variant of every shipped recipe (launch.variant_smoke): a variant that
crashes, stops logging, or logs a NaN fails here. One process, one Ray start, one TaskRunner for all runs."""

import json
import math
import subprocess
import sys

import pytest

from launch import variant_smoke
from launch.recipe import REPO_ROOT, load_recipe

# Measured on this 2-core box under load 17-60 (other jobs running): 43-71 CPU-s per run (processes' CPU time,
# sampled), about 60 on average, 18 runs, plus ~21 CPU-s validating them: ~18 CPU-minutes, so 9-18 minutes
# on a quiet 2-core machine. The bound turns a hang into a failure.
TIMEOUT_S = 2400


def test_every_variant_of_every_rl_recipe_is_listed():
    pairs = variant_smoke.shipped_variants()
    for recipe, variant in [("countdown-ablations", "gspo"), ("countdown-mini-ablations", "lora")]:
        assert (recipe, variant) in pairs
    assert not [recipe for recipe, _ in pairs if load_recipe(recipe).distill is not None]


def test_variants_the_tiny_model_makes_identical_run_once(tmp_path):
    pairs = [("countdown-ablations", name) for name in ("grpo", "size_7b", "instruct", "gspo")]
    runs = variant_smoke.plan_variants(pairs, tmp_path / "model", tmp_path / "data", tmp_path)
    by_name = {run.name: run for run in runs}
    assert set(by_name) == {"countdown-ablations/grpo", "countdown-ablations/gspo"}
    assert sorted(by_name["countdown-ablations/grpo"].covers) == [
        "countdown-ablations/instruct",
        "countdown-ablations/size_7b",
    ]
    gspo = by_name["countdown-ablations/gspo"].plan.overrides
    assert gspo["actor_rollout_ref.actor.policy_loss.loss_mode"] == "gspo"  # the variant survives the overlay
    assert gspo["actor_rollout_ref.rollout.n"] == 4 and gspo["trainer.total_training_steps"] == 2


def test_a_nan_or_a_missing_step_fails_the_metrics_check(tmp_path):
    metrics = tmp_path / "m.jsonl"
    rows = [{"step": 1, "data": {"actor/pg_loss": 0.1}}, {"step": 2, "data": {"actor/pg_loss": math.nan}}]
    metrics.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    assert "step 2: actor/pg_loss = nan" in variant_smoke.bad_metrics(metrics)
    metrics.write_text(json.dumps(rows[0]) + "\n")
    assert "step(s) [2]" in variant_smoke.bad_metrics(metrics)
    rows[1]["data"]["actor/pg_loss"] = 0.2
    metrics.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    assert variant_smoke.bad_metrics(metrics) is None


@pytest.mark.slow
@pytest.mark.variant_smoke
@pytest.mark.timeout(TIMEOUT_S + 120)
def test_every_shipped_variant_takes_two_real_steps_without_nan(tmp_path):
    command = [sys.executable, "-m", "launch", "smoke-variants", "--out", str(tmp_path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"smoke-variants hung for {TIMEOUT_S} s; last output:\n{(error.stdout or b'')[-3000:]}")
    summary = (
        json.loads((tmp_path / "summary.json").read_text()) if (tmp_path / "summary.json").is_file() else []
    )
    failed = {run["run"]: run["reason"] for run in summary if run["status"] != "finished"}
    assert done.returncode == 0 and not failed, (failed, done.stdout[-3000:], done.stderr[-3000:])
    covered = {name for run in summary for name in [run["run"], *run["covers"]]}
    assert covered == {f"{recipe}/{variant}" for recipe, variant in variant_smoke.shipped_variants()}


def test_ci_runs_each_code_path_once_and_adapts_what_the_cpu_backend_lacks(tmp_path):
    pairs = [(recipe, "lora") for recipe in ("countdown-ablations", "countdown-mini-ablations")]
    pairs += [("countdown-ablations", "dapo_filter"), ("countdown-ablations", "dapo_overlong")]
    runs = variant_smoke.plan_variants(pairs, tmp_path / "model", tmp_path / "data", tmp_path, "code-paths")
    by_name = {run.name: run for run in runs}
    # Rank, alpha, lr and KL differ; the code path (a merged LoRA adapter) is the same: one run.
    assert by_name["countdown-ablations/lora"].covers == ["countdown-mini-ablations/lora"]
    assert by_name["countdown-ablations/lora"].plan.overrides["actor_rollout_ref.model.lora.merge"] is True
    dapo = by_name["countdown-ablations/dapo_filter"].plan.overrides
    assert dapo["+reward.custom_reward_function.reward_kwargs.control"] == "random"  # groups with signal
    overlong = by_name["countdown-ablations/dapo_overlong"].plan.overrides
    assert overlong["+reward.reward_kwargs.max_resp_len"] == overlong["data.max_response_length"] == 16
    assert len(variant_smoke.plan_variants(pairs, tmp_path / "m", tmp_path / "d", tmp_path, "configs")) == 4
