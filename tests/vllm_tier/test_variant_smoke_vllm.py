"""The variants that change what verl's rollout or its weight sync does, two real steps each through verl's vLLM
rollout (launch.variant_smoke with `--rollout vllm`): rollout correction reading vLLM's log-probs, and LoRA
synced to vLLM as an adapter (unmerged) and merged. Run by `make test-variants` (CI), not `make test`.

    .venv-vllm/bin/python -m pytest -m variant_smoke tests/vllm_tier/test_variant_smoke_vllm.py
"""

import json
import subprocess
import sys

import pytest

from launch import variant_smoke
from launch.plan import compile_run, expand
from launch.recipe import REPO_ROOT, load_recipe

TIMEOUT_S = 1800  # the bound turns a hang into a failure


def _plan(recipe_name, variant):
    recipe = load_recipe(recipe_name)
    _, point, seed = next(expand(recipe, variant))
    return compile_run(recipe, variant, point, seed)


def test_the_rollout_touching_variants_are_the_rollout_correction_and_lora_ones():
    touching = {
        pair for pair in variant_smoke.shipped_variants() if variant_smoke.touches_rollout(_plan(*pair))
    }
    assert ("countdown-ablations", "lora") in touching and ("countdown-ablations", "rollout_tis") in touching
    assert ("countdown-ablations", "grpo") not in touching and ("countdown-ablations", "gspo") not in touching


@pytest.mark.slow
@pytest.mark.variant_smoke
@pytest.mark.timeout(TIMEOUT_S + 120)
def test_rollout_touching_variants_take_two_real_steps_through_vllm(tmp_path):
    command = [sys.executable, "-m", "launch", "smoke-variants", "--rollout", "vllm", "--out", str(tmp_path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"smoke-variants hung for {TIMEOUT_S} s; last output:\n{(error.stdout or b'')[-3000:]}")
    summary_file = tmp_path / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else []
    failed = {run["run"]: run["reason"] for run in summary if run["status"] != "finished"}
    assert done.returncode == 0 and not failed, (failed, done.stdout[-3000:], done.stderr[-3000:])
    covered = {name for run in summary for name in [run["run"], *run["covers"]]}
    expected = {
        f"{recipe}/{variant}"
        for recipe, variant in variant_smoke.shipped_variants()
        if variant_smoke.touches_rollout(_plan(recipe, variant))
    }
    assert covered == expected and {"countdown-ablations/lora", "countdown-ablations/rollout_tis"} <= covered
