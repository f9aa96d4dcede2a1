"""`make gpu-check`'s path on CPU (`--dry-cpu`): verl's real actor and reference workers, in-process, from the
shipped recipe's composed config, fill two micro-batches per phase to each profile's budget; the JSON carries
every phase beside the estimate, and the calibration file it writes is marked as a CPU one that the estimate
never uses."""

import json
import subprocess
import sys

import pytest
import yaml

from launch import calibration, engine_check
from launch.recipe import REPO_ROOT

DRY_TIMEOUT_S = 300  # ~30 s alone on 2 cores; the bound turns a hang into a failure


@pytest.mark.slow
def test_dry_cpu_check_runs_verls_workers_at_both_profiles_and_writes_a_cpu_calibration(tmp_path):
    command = [sys.executable, "benchmarks/gpu_check.py", "--dry-cpu", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=DRY_TIMEOUT_S)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not (tmp_path / "errors.json").exists()
    record = json.loads((tmp_path / "engine-tiny.json").read_text())

    steps = record["steps"]
    assert [(s["step"], s["profile"]) for s in steps[::3]] == [(1, "1xh200"), (2, "1xh200"), (3, "1x80gb")]
    for step in steps:
        # Full-length sequences fill each micro-batch exactly to the budget: verl formed two per phase.
        assert step["micro_batches"] == engine_check.MICRO_BATCHES, step
        assert step["tokens_per_micro_batch"] == step["budget_tokens"], step
        assert step["seconds"] > 0 and step["tokens_per_s"] > 0 and step["peak_allocated_bytes"] > 0
    update = [s for s in steps if s["phase"] == "update"]
    placement = record["state_after_step2"]  # where each engine's state sat between phases
    assert placement["actor"]["optimizer_bytes"] and placement["ref"]["parameter_bytes"]
    assert all("grad_norm" in s["verl_metrics"] for s in update)  # verl's own update ran
    # The profiles' budgets, scaled down for the CPU in the same proportion.
    assert {s["profile"]: s["budget_tokens"] for s in update} == {
        "1xh200": 32768 // engine_check.DRY_BUDGET_DIVISOR,
        "1x80gb": 16384 // engine_check.DRY_BUDGET_DIVISOR,
    }
    for profile in engine_check.PROFILES:
        phases = record["summary"][profile]["phases"]
        assert set(phases) == {"log-prob", "ref log-prob", "update"}
        assert all(row["estimated_gb"] > 0 for row in phases.values())

    written = yaml.safe_load((tmp_path / "cpu-dry-run-not-a-gpu-calibration.yaml").read_text())
    assert written["device"] == "cpu" and written["models"] == ["tiny"]
    assert set(written["constants"]) == set(calibration.CONSTANT_NAMES)
    # A CPU file is never taken for a GPU's calibration, even under the GPU's name.
    assert calibration.find(written["gpu"], tmp_path) is None
    assert "model" in done.stdout and "1x80gb" in done.stdout  # the table
