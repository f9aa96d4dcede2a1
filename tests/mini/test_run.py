"""`make mini`'s plans: any seed runs without an edit of the recipe, and its run says how to reproduce it.

python -m pytest tests/mini/test_run.py -q
"""

from __future__ import annotations

import pytest

from launch.plan import SEED_KEYS, compile_recipe
from launch.recipe import RecipeError, load_recipe
from mini import RECIPE
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


def test_a_negative_seed_is_refused():
    with pytest.raises(RecipeError, match="negative"):
        compile_recipe(load_recipe(RECIPE), "grpo", -1)
