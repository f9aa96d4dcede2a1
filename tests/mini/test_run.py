"""`make mini`'s plans: any seed runs without an edit of the recipe, and its run says how to reproduce it; a
vLLM run (`--rollout vllm`) has an id of its own and differs from the hfcpu run by the vLLM tier's settings only.

python -m pytest tests/mini/test_run.py -q
"""

from __future__ import annotations

import json

import pytest

from launch.cpu_backend import CPU_ROLLOUT_NAME
from launch.cpu_backend.vllm_cpu import GPU_SETTINGS_REPLACED, VLLM_CPU_ENV_REPLACED, VLLM_ROLLOUT_NAME
from launch.plan import SEED_KEYS, compile_recipe
from launch.recipe import RecipeError, load_recipe
from launch.stages.plan import compile_pipelines
from mini import BASES, R1_RECIPE, RECIPE, RECIPES
from mini.__main__ import main
from mini.run import build_split, plans


def test_a_seed_outside_sweep_seeds_runs_and_its_id_and_reproduce_name_it(tmp_path):
    recipe = load_recipe(RECIPE)
    assert 4 not in recipe.sweep.seeds
    data = str(tmp_path / "data")
    build_split(data)
    (plan,), configs = plans("grpo", 4, None, str(tmp_path / "results"), data)
    assert plan.run_id == "countdown-mini__grpo__s4" and plan.seed == 4
    assert plan.reproduce == "make mini VARIANT=grpo SEED=4"
    assert all(plan.overrides[key] == 4 for key in SEED_KEYS)
    assert plan.run_id in configs  # validated like every run
    (train,) = compile_recipe(load_recipe("countdown-3b"), "default", 7)
    assert train.run_id.endswith("__s7") and "SEED=7" in train.reproduce


def test_the_ablation_recipe_runs_on_the_miniature_and_says_so_in_its_reproduce_line(tmp_path):
    data = str(tmp_path / "data")
    build_split(data)
    (plan,), configs = plans(
        "rloo", 2, None, str(tmp_path / "results"), data, recipe_name="countdown-mini-ablations"
    )
    assert plan.run_id == "countdown-mini-ablations__rloo__s2" and plan.run_id in configs
    assert plan.reproduce == "make mini RECIPE=countdown-mini-ablations VARIANT=rloo SEED=2"
    assert plan.overrides["algorithm.adv_estimator"] == "rloo"
    with pytest.raises(ValueError, match="not a miniature recipe"):
        plans("default", 1, None, str(tmp_path / "results"), data, recipe_name="countdown-3b")


def test_the_long_miniature_runs_from_its_own_bases_with_its_own_budget(tmp_path):
    data = str(tmp_path / "data")
    build_split(data)
    runs, configs = plans(None, 1, None, str(tmp_path / "results"), data, recipe_name="countdown-mini-long")
    by_variant = {plan.run_id.split("__")[1]: plan for plan in runs}
    assert sorted(by_variant) == ["grpo", "random_reward", "short_prior"]
    assert all(plan.run_id in configs for plan in runs)  # validated like every run
    assert by_variant["grpo"].model == BASES["long"] and by_variant["short_prior"].model == BASES["short"]
    assert by_variant["grpo"].overrides["data.max_response_length"] == 472
    assert by_variant["grpo"].reproduce == "make mini RECIPE=countdown-mini-long VARIANT=grpo SEED=1"


def test_every_miniature_run_starts_from_a_base_the_miniature_builds():
    for name in RECIPES:
        recipe = load_recipe(name)
        if recipe.stages is not None:  # R1's arms: pipelines, each from the recipe's base
            models = {pipeline.base_model for pipeline in compile_pipelines(recipe, device="cpu")}
        else:
            models = {plan.model for plan in compile_recipe(recipe)}
        assert models <= set(BASES.values()), (name, models)


def test_the_r1_recipe_refuses_options_its_pipelines_do_not_take(capsys):
    with pytest.raises(SystemExit):
        main(["--recipe", R1_RECIPE, "--steps", "2"])
    assert "recipe's own steps" in capsys.readouterr().err


def test_a_negative_seed_is_refused():
    with pytest.raises(RecipeError, match="negative"):
        compile_recipe(load_recipe(RECIPE), "grpo", -1)


def test_a_vllm_run_has_its_own_id_and_exactly_the_vllm_tiers_settings(tmp_path):
    data = str(tmp_path / "data")
    build_split(data)
    results = str(tmp_path / "results")
    (hfcpu,), _ = plans("grpo", 1, 2, results, data)
    (vllm,), configs = plans("grpo", 1, 2, results, data, rollout=VLLM_ROLLOUT_NAME)
    # The committed hfcpu record keeps its id; the vLLM run lands beside it, not on it.
    assert hfcpu.run_id == "countdown-mini__grpo__s1"
    assert vllm.run_id == "countdown-mini__grpo_vllm__s1" and vllm.run_dir != hfcpu.run_dir
    assert vllm.checkpoint_dir != hfcpu.checkpoint_dir
    assert vllm.reproduce == "make mini VARIANT=grpo SEED=1 STEPS=2 ROLLOUT=vllm"
    assert vllm.run_id in configs  # validated like every run
    assert hfcpu.overrides["actor_rollout_ref.rollout.name"] == CPU_ROLLOUT_NAME
    assert vllm.overrides["actor_rollout_ref.rollout.name"] == VLLM_ROLLOUT_NAME
    for key, replacement in GPU_SETTINGS_REPLACED.items():
        assert vllm.overrides[key] == replacement.value, key
    assert all(vllm.env[key] == replacement.value for key, replacement in VLLM_CPU_ENV_REPLACED.items())
    # Only the rollout differs: every other setting is the hfcpu run's (names derived from the run id aside).
    derived = {key for key, value in hfcpu.overrides.items() if hfcpu.run_id in str(value)}
    changed = {
        key
        for key in hfcpu.overrides.keys() | vllm.overrides.keys()
        if hfcpu.overrides.get(key) != vllm.overrides.get(key)
    }
    assert "actor_rollout_ref.rollout.name" in changed
    assert changed - derived <= {"actor_rollout_ref.rollout.name", *GPU_SETTINGS_REPLACED}


def test_mini_refuses_an_unknown_rollout(capsys):
    with pytest.raises(SystemExit):
        main(["--rollout", "sglang"])
    assert "invalid choice" in capsys.readouterr().err


def test_a_trial_run_into_scratch_dirs_leaves_the_real_runs_checkpoints_alone(tmp_path):
    # A trial `--steps 2 --results-dir scratch` once left its checkpoint where the real run of the same id
    # looks for one, and the real run resumed from the trial's step 2.
    data = str(tmp_path / "data")
    build_split(data)
    (real,), _ = plans("grpo", 1, None, "results", data)
    (trial,), _ = plans("grpo", 1, 2, str(tmp_path / "r"), data, checkpoints_dir=str(tmp_path / "c"))
    assert trial.run_id == real.run_id and trial.checkpoint_dir != real.checkpoint_dir
    assert trial.overrides["trainer.default_local_dir"] == str(tmp_path / "c" / RECIPE / trial.run_id)


def test_the_r1_arms_that_cold_start_read_the_one_shared_build_the_recipe_header_describes():
    from launch.recipe import REPO_ROOT, recipe_path
    from mini.r1 import COLD_START_K, COLD_START_PROMPTS, cold_start_files

    recipe = load_recipe(R1_RECIPE)
    by_variant = {p.variant: p for p in compile_pipelines(recipe, seed=1, device="cpu")}
    shared = {REPO_ROOT / "data" / "countdown-mini-r1" / "cold-start" / "train.parquet"}
    assert cold_start_files([by_variant["cold_start"], by_variant["r1"]]) == shared
    assert cold_start_files([by_variant["zero"], by_variant["zero_lang"]]) == set()
    header = recipe_path(R1_RECIPE).read_text()
    assert (
        f"{COLD_START_PROMPTS:,} x {COLD_START_K} = {COLD_START_PROMPTS * COLD_START_K:,} samples" in header
    )
    assert "python -m mini --recipe countdown-mini-r1 --variant zero --seed 1" in header


def test_the_cold_start_build_is_recorded_beside_the_runs_and_another_build_never_overwrites_it(tmp_path):
    from launch.recipe import REPO_ROOT
    from mini.r1 import record_cold_start

    data = tmp_path / "data" / "cold-start"
    (tmp_path / "data" / "base-samples").mkdir(parents=True)
    data.mkdir()
    (data / "train.parquet").write_bytes(b"traces v1")
    (data / "meta.json").write_text('{"counts": {"kept": 400}}')
    teacher = str(REPO_ROOT / "results" / "base")
    (tmp_path / "data" / "base-samples" / "meta.json").write_text(json.dumps({"teacher": teacher}))
    record, said = tmp_path / "results" / "r1" / "cold-start", []

    record_cold_start(data, record, said.append)
    assert (record / "train.parquet").read_bytes() == b"traces v1"
    assert json.loads((record / "meta.json").read_text()) == {"counts": {"kept": 400}}
    assert json.loads((record / "samples.json").read_text()) == {"teacher": "results/base"}  # no machine path

    (data / "train.parquet").write_bytes(b"traces v2")
    record_cold_start(data, record, said.append)
    assert (record / "train.parquet").read_bytes() == b"traces v1"
    assert said[-1].startswith("WARNING:") and "left as it is" in said[-1]
