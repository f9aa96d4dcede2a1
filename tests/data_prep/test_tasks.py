"""The task catalogue: every task declared once, and a new task added through it alone runs end to end."""

import subprocess
import sys

import pandas as pd
import pytest

from data_prep import tasks
from data_prep.solver import solve
from data_prep.tasks import TASKS, Task, build_command
from data_prep.templates import get_template
from evaluation import cli, evaluate
from launch.plan import compile_recipe
from launch.recipe import REPO_ROOT, list_recipes, load_recipe
from launch.validate import RunInvalid, validate_plans
from rewards import compute_score
from rewards.registry import SCORER_KINDS


def test_every_task_names_a_scorer_a_template_and_a_budget():
    for task in TASKS.values():
        assert task.scorer in SCORER_KINDS and task.eval_max_tokens > 0
        get_template(task.template)
    assert set(tasks.scorer_kinds()) == {
        "countdown",
        "game24",
        "gsm8k",
        "math",
        "math500",
        "aime24",
        "aime25",
    }


def test_every_recipe_task_is_in_the_catalogue():
    for name in list_recipes():
        recipe = load_recipe(name)
        assert {recipe.task, *recipe.val_tasks} <= set(TASKS), name


def test_a_data_source_two_tasks_declare_must_share_its_scorer(monkeypatch):
    monkeypatch.setitem(TASKS, "odd", Task("odd", ("countdown",), ("countdown",), "math-latex", 16))
    with pytest.raises(ValueError, match="'countdown' is scored as both countdown and math-latex"):
        tasks.scorer_kinds()


TOY = Task(
    "countdown-toy",
    (
        "countdown",
        "--min-numbers",
        "3",
        "--max-numbers",
        "3",
        "--max-number",
        "9",
        "--train-size",
        "32",
        "--test-size",
        "8",
    ),  # fmt: skip
    ("countdown",),
    "countdown",
    64,
)


def test_a_toy_task_added_to_the_catalogue_alone_builds_validates_evaluates_and_scores(tmp_path, monkeypatch):
    monkeypatch.setitem(TASKS, TOY.name, TOY)
    data_dir = tmp_path / "data"
    # data build: the command validation and pre-flight run for a missing split
    subprocess.run(build_command(TOY.name, TOY.template, str(data_dir)), check=True, cwd=REPO_ROOT)
    test_split = data_dir / TOY.name / TOY.template / "test.parquet"
    assert test_split.is_file()
    # validation: a recipe naming the toy task passes the data check (data_source, template)
    recipe_path = tmp_path / "toy.yaml"
    recipe_path.write_text(
        (REPO_ROOT / "recipes" / "debug.yaml")
        .read_text()
        .replace("task: countdown", f"task: {TOY.name}")
        .replace("base: base.yaml", f"base: {REPO_ROOT / 'recipes' / 'base.yaml'}")
    )
    plans = compile_recipe(load_recipe(str(recipe_path)), data_dir=str(data_dir))
    assert plans[0].task == TOY.name and plans[0].val_tasks == (TOY.name,)
    validate_plans(plans, check_data_files=True)
    # evaluation: its split reads as the task, with the task's token budget
    split = evaluate.read_split(test_split, TOY.name, None)
    assert (split.data_source, split.template, split.num_prompts) == (TOY.name, "base", 8)
    args = type("Args", (), {"max_tokens": None, "n": 1, "temperature": 0.6, "top_p": 0.95})()
    assert cli.decoding_from(args, TOY.name).max_tokens == 64
    # scoring: a solved row scores 1, a wrong answer less
    row = pd.read_parquet(test_split).iloc[0]
    truth = row["reward_model"]["ground_truth"]
    answer = solve([int(n) for n in truth["numbers"]], int(truth["target"]))
    assert answer is not None
    info = dict(row["extra_info"])
    right = compute_score(row["data_source"], f" ... </think> <answer>{answer}</answer>", truth, info)
    wrong = compute_score(row["data_source"], " ... </think> <answer>1+1</answer>", truth, info)
    assert right["score"] == 1.0 and right["acc"] == 1 and wrong["score"] < 1.0


def test_a_split_of_another_task_is_refused_by_the_same_check(tmp_path, monkeypatch):
    monkeypatch.setitem(TASKS, TOY.name, TOY)
    out = tmp_path / "game24"
    subprocess.run(
        [sys.executable, "-m", "data_prep", "game24", "--out", str(out)], check=True, cwd=REPO_ROOT
    )
    with pytest.raises(RunInvalid, match=r"holds data_source \['game24'\], not --task countdown-toy"):
        evaluate.read_split(out / "test.parquet", TOY.name, None)


def test_the_catalogue_owns_the_split_layout_and_the_build_command(tmp_path):
    from data_prep.tasks import split_path

    assert (
        str(split_path("data", "countdown-mini", "mini", "test")) == "data/countdown-mini/mini/test.parquet"
    )
    command = build_command("countdown-mini", "mini", "data")
    assert command[1:4] == ["-m", "data_prep", "countdown"]
    assert command[-4:] == ["--out", "data/countdown-mini/mini", "--template", "mini"]


def test_a_plan_carries_its_reward_options_as_their_own_field():
    from launch.plan import compile_recipe
    from launch.recipe import load_recipe

    (plan,) = compile_recipe(load_recipe("countdown-mini"), "random_reward", 1)
    assert plan.reward_kwargs["control"] == "random"
    flattened = {k.rsplit(".", 1)[1]: v for k, v in plan.overrides.items() if ".reward_kwargs." in k}
    assert flattened == plan.reward_kwargs
