"""Distillation recipes: the shipped countdown-distill, and wrong distill sections failing by name."""

from __future__ import annotations

import pytest
import yaml

from distill.plan import run_options, run_sft_overrides, validate_distill_recipe
from distill.recipe import distill_runs, resolve_teacher
from distill.schema import section_of
from launch.cli import plan_main
from launch.recipe import RECIPES_DIR, RecipeError, load_recipe

SHIPPED = section_of(load_recipe("countdown-distill"))


def _write(tmp_path, **changes):
    body = yaml.safe_load((RECIPES_DIR / "countdown-distill.yaml").read_text())
    body["base"] = str(RECIPES_DIR / "base.yaml")
    distill = changes.pop("distill", {})
    body["distill"] = {**body["distill"], **distill}
    body.update(changes)
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump(body))
    return load_recipe(str(path))


def test_countdown_distill_runs_share_one_teacher_build_per_seed():
    runs = distill_runs(load_recipe("countdown-distill"))
    assert [r.run_id for r in runs[:2]] == [
        "countdown-distill__qwen2.5-0.5b__s1",
        "countdown-distill__qwen2.5-0.5b__s2",
    ]
    assert {r.student for r in runs} == {"Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B"}
    by_seed = {}
    for run in runs:
        by_seed.setdefault(run.seed, set()).add(run.build_dir)
    assert all(len(dirs) == 1 for dirs in by_seed.values()) and len(by_seed) == 3
    sampling, filters, evaluation = run_options(runs[0])
    assert (sampling.n, filters.max_per_prompt, filters.choice, evaluation.n) == (8, 1, "shortest", 16)
    overrides = run_sft_overrides(runs[0])
    assert overrides["model.path"] == "Qwen/Qwen2.5-0.5B" and overrides["optim.lr"] == 1.0e-5
    assert validate_distill_recipe(load_recipe("countdown-distill"), check_data_files=False) == 6


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"distill": {"sft": {"optim.lrr": 1.0}}},
            r"qwen2.5-0.5b__s1: 'optim.lrr' is not a key .*did you mean optim.lr",
        ),
        ({"distill": {"sft": {"data.balance_dp_token": True}}}, r"never read by verl"),
        ({"distill": {"choice": "longest"}}, r"--choice 'longest'"),
        ({"distill": {"k": 0}}, r"--n must be at least 1"),
        ({"distill": {"teacher_run": "countdown-3b__nope__s1"}}, r"not a run of countdown-3b"),
    ],
)
def test_a_wrong_distill_section_fails_naming_the_key(tmp_path, changes, expected):
    with pytest.raises(RecipeError, match=expected):
        validate_distill_recipe(_write(tmp_path, **changes), check_data_files=False)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"distill": {"kk": 8}}, r"distill.kk: Extra inputs are not permitted"),
        ({"distill": {"teacher": "Qwen/Qwen2.5-3B"}}, r"exactly one of teacher"),
    ],
)
def test_a_malformed_distill_section_is_a_schema_error(tmp_path, changes, expected):
    with pytest.raises(RecipeError, match=expected):
        section_of(_write(tmp_path, **changes))


def test_a_variant_may_change_only_the_student(tmp_path):
    recipe = _write(tmp_path, sweep={"variants": {"v": {"optim.lr": 1.0}}, "seeds": [1]})
    with pytest.raises(RecipeError, match="may set only model, template"):
        distill_runs(recipe)


def test_the_teacher_is_the_rl_runs_last_checkpoint(tmp_path):
    run_dir = tmp_path / "countdown-3b" / "countdown-3b__default__s1"
    with pytest.raises(FileNotFoundError, match="no checkpoint yet"):
        resolve_teacher(SHIPPED, str(tmp_path))
    run_dir.mkdir(parents=True)
    (run_dir / "latest_checkpointed_iteration.txt").write_text("500")
    assert resolve_teacher(SHIPPED, str(tmp_path)) == str(run_dir / "global_step_500" / "actor")


def test_rl_commands_refuse_a_distillation_recipe(capsys):
    assert plan_main(["countdown-distill"]) == 1
    assert "python -m distill run countdown-distill" in capsys.readouterr().err
