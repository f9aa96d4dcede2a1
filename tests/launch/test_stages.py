"""Multi-stage recipes (launch/stages/): the shipped countdown-r1 composed and validated against the pinned verl,
wrong stages failing by recipe, stage and key before any stage starts, variants patching stages, the printed
plan, and what a relaunch runs (pipeline.json). No training here: tests/launch/test_stages_cpu.py runs one."""

from __future__ import annotations

import json

import pytest
import yaml

from distill.stage import later_stages
from launch.__main__ import run_command
from launch.recipe import RECIPES_DIR, RecipeError, load_recipe
from launch.stages import state as pipeline_state
from launch.stages.plan import RlStagePlan, SftStagePlan, compile_pipeline, compile_pipelines, model_dir
from launch.stages.run import run_pipeline, validate_pipelines
from launch.validate import RunInvalid

LATER = later_stages()
SHIPPED = yaml.safe_load((RECIPES_DIR / "countdown-r1.yaml").read_text())


def _write(tmp_path, name="probe", **changes):
    body = {**SHIPPED, "base": str(RECIPES_DIR / "base.yaml"), **changes}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return load_recipe(str(path))


def _stages(**by_name):
    """The shipped stages with some stages' fields replaced (None removes a field)."""
    stages = []
    for stage in SHIPPED["stages"]:
        changed = {**stage, **by_name.get(stage["name"], {})}
        stages.append({k: v for k, v in changed.items() if v is not None})
    return stages


def test_countdown_r1_is_four_stages_each_from_the_right_model():
    pipeline = compile_pipeline(load_recipe("countdown-r1"), "default", 1)
    assert pipeline.run_id == "countdown-r1__default__s1"
    kinds = [(plan.stage.dir_name, type(plan).__name__) for plan in pipeline.stages]
    assert kinds == [
        ("01-cold-start", "SftStagePlan"),
        ("02-reasoning-rl", "RlStagePlan"),
        ("03-rejection-sft", "SftStagePlan"),
        ("04-final-rl", "RlStagePlan"),
    ]
    cold, rl, rejection, final = pipeline.stages
    assert cold.student == "Qwen/Qwen2.5-3B"
    assert (
        rl.model
        == str(model_dir(cold))
        == "checkpoints/countdown-r1/countdown-r1__default__s1/01-cold-start/model"
    )
    assert rl.overrides["actor_rollout_ref.model.path"] == rl.model
    assert rejection.student == "Qwen/Qwen2.5-3B" and rejection.teacher == str(model_dir(rl))
    assert final.model == str(model_dir(rejection))
    for plan in (rl, final):
        assert plan.run_dir == pipeline.run_dir / "stages" / plan.stage.dir_name
        assert plan.overrides["trainer.default_local_dir"] == plan.checkpoint_dir.as_posix()
        assert plan.overrides["trainer.rollout_data_dir"] == f"{plan.run_dir.as_posix()}/rollouts"
    assert rl.overrides["trainer.total_training_steps"] == 300
    assert final.overrides["trainer.total_training_steps"] == 200
    assert rl.overrides["trainer.experiment_name"] != final.overrides["trainer.experiment_name"]
    assert validate_pipelines([pipeline], LATER, check_data_files=False)


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        (
            _stages(**{"rejection-sft": {"sft": {"optim.lrr": 1.0e-5}}}),
            r"countdown-r1: stage 3 'rejection-sft' \(sft\) of countdown-r1__default__s1: 'optim.lrr' is not a key",
        ),
        (
            _stages(**{"final-rl": {"overrides": {"actor_rollout_ref.actor.optim.lrr": 1.0e-6}}}),
            r"stage 4 'final-rl' \(rl\) of .*'actor_rollout_ref.actor.optim.lrr' is not a key of verl 0.9.1's ppo_trainer",
        ),
        (_stages(**{"rejection-sft": {"k": 0}}), r"stage 3 'rejection-sft'.*--n must be at least 1"),
        (_stages(**{"cold-start": {"kk": 4}}), r"stage 1 'cold-start'.*kk: Extra inputs are not permitted"),
        (
            _stages(**{"rejection-sft": {"data": "traces.parquet"}}),
            r"stage 3 'rejection-sft'.*exactly one of data: .* names data, teacher_stage",
        ),
    ],
)
def test_a_bad_stage_fails_validation_naming_recipe_stage_and_key(tmp_path, stages, expected):
    recipe = _write(tmp_path, "countdown-r1", stages=stages)
    with pytest.raises(RunInvalid, match=expected):
        validate_pipelines([compile_pipeline(recipe, "default", 1)], LATER, check_data_files=False)


def test_validate_refuses_a_bad_key_in_stage_3_through_the_front_door(tmp_path, capsys):
    recipe = _write(tmp_path, stages=_stages(**{"rejection-sft": {"sft": {"optim.lrr": 1.0}}}))
    assert run_command("validate", [str(recipe.path), "--no-data-check", "--profile", "recipe"]) == 1
    assert "stage 3 'rejection-sft'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        (
            _stages(**{"rejection-sft": {"teacher_stage": "final-rl"}}),
            r"stage 3 'rejection-sft': teacher_stage: 'final-rl' must name an earlier stage.*comes at or after",
        ),
        (
            _stages(**{"rejection-sft": {"teacher_stage": "rejection-sft"}}),
            r"teacher_stage: 'rejection-sft' must name an earlier stage",
        ),
        (
            _stages(**{"final-rl": {"from": "nowhere"}}),
            r"from: 'nowhere' must name an earlier stage.*no stage",
        ),
        (_stages(**{"cold-start": {"kind": "dpo"}}), r"stage 1 'cold-start': kind 'dpo'"),
        (_stages(**{"final-rl": {"name": "cold-start"}}), r"another stage already has this name"),
        (_stages(**{"final-rl": {"sft": {"optim.lr": 1.0}}}), r"an rl stage takes overrides, reward_kwargs"),
        (_stages(**{"final-rl": {"overrides": {"lr": 1.0}}}), r"'lr' is not a verl dotted key"),
        ([], r"stages: is empty"),
    ],
)
def test_a_malformed_stage_list_is_a_recipe_error(tmp_path, stages, expected):
    recipe = _write(tmp_path, stages=stages)
    with pytest.raises(RecipeError, match=expected):
        compile_pipeline(recipe, "default", 1)


def test_variants_patch_stages_and_multiply_with_seeds(tmp_path):
    variants = {
        "default": {},
        "lr_and_base": {
            "model": "Qwen/Qwen2.5-1.5B",
            "actor_rollout_ref.actor.optim.lr": 2.0e-6,
            "stages": {
                "final-rl": {"trainer.total_training_steps": 50, "reward_kwargs": {"format_score": 0.0}},
                "rejection-sft": {"trainer.total_epochs": 3, "k": 4},
            },
        },
    }
    recipe = _write(tmp_path, sweep={"variants": variants, "seeds": [1, 2]})
    pipelines = compile_pipelines(recipe)
    assert [p.run_id for p in pipelines] == [
        f"probe__{v}__s{s}" for v in ("default", "lr_and_base") for s in (1, 2)
    ]
    default, patched = pipelines[0], pipelines[2]
    cold, rl, rejection, final = patched.stages
    assert cold.student == rejection.student == "Qwen/Qwen2.5-1.5B"
    assert (
        rl.overrides["actor_rollout_ref.actor.optim.lr"]
        == final.overrides["actor_rollout_ref.actor.optim.lr"]
    )
    assert rl.overrides["actor_rollout_ref.actor.optim.lr"] == 2.0e-6
    assert (
        rl.overrides["trainer.total_training_steps"],
        final.overrides["trainer.total_training_steps"],
    ) == (300, 50)
    assert final.reward_kwargs == {"format_score": 0.0}
    assert rl.reward_kwargs == {"format_score": 0.1, "language_consistency": 1.0, "target_language": "en"}
    assert rejection.stage.section["sft"]["trainer.total_epochs"] == 3 and rejection.stage.section["k"] == 4
    assert default.stages[2].stage.section["k"] == 8
    assert validate_pipelines(pipelines, LATER, check_data_files=False, check_fit=False)
    bad = _write(tmp_path, sweep={"variants": {"v": {"stages": {"nope": {"k": 1}}}}, "seeds": [1]})
    with pytest.raises(RecipeError, match=r"variant 'v' patches stage\(s\) 'nope' the recipe does not have"):
        compile_pipeline(bad, "v", 1)


def test_a_variant_runs_a_subset_of_the_stages_numbered_in_its_own_order(tmp_path):
    variants = {
        "zero": {"only_stages": ["reasoning-rl"]},
        "cold": {"only_stages": ["cold-start", "reasoning-rl"]},
        "no_cold": {"only_stages": ["reasoning-rl", "rejection-sft", "final-rl"]},
    }
    recipe = _write(tmp_path, sweep={"variants": variants, "seeds": [1]})
    zero, cold, no_cold = (compile_pipeline(recipe, name, 1) for name in variants)
    (rl,) = zero.stages
    assert rl.stage.dir_name == "01-reasoning-rl" and rl.model == "Qwen/Qwen2.5-3B"  # `previous`: the base
    assert "only_stages" not in rl.overrides
    assert [plan.stage.dir_name for plan in cold.stages] == ["01-cold-start", "02-reasoning-rl"]
    assert cold.stages[1].model == str(model_dir(cold.stages[0]))
    rl, rejection, final = no_cold.stages
    assert rl.model == "Qwen/Qwen2.5-3B" and rejection.teacher == str(model_dir(rl))
    assert final.model == str(model_dir(rejection))
    assert validate_pipelines([zero, cold, no_cold], LATER, check_data_files=False, check_fit=False)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (
            {"only_stages": ["rejection-sft"]},
            r"teacher_stage: 'reasoning-rl'.*this variant's only_stages leaves it out",
        ),
        ({"only_stages": ["nope"]}, r"only_stages: 'nope'; the stages are cold-start, reasoning-rl"),
        ({"only_stages": "final-rl"}, r"only_stages: lists stage names"),
        (
            {"only_stages": ["final-rl"], "stages": {"cold-start": {"k": 1}}},
            r"patches stage\(s\) 'cold-start' the recipe does not have",
        ),
    ],
)
def test_a_bad_stage_selection_is_a_recipe_error(tmp_path, variant, expected):
    recipe = _write(tmp_path, sweep={"variants": {"v": variant}, "seeds": [1]})
    with pytest.raises(RecipeError, match=expected):
        compile_pipeline(recipe, "v", 1)


def test_the_miniature_r1_recipe_has_four_arms_at_comparable_sample_budgets():
    recipe = load_recipe("countdown-mini-r1")
    pipelines = {p.variant: p for p in compile_pipelines(recipe, seed=1, device="cpu")}
    assert {name: [plan.stage.name for plan in p.stages] for name, p in pipelines.items()} == {
        "zero": ["rl"],
        "zero_lang": ["rl"],
        "cold_start": ["cold-start", "rl"],
        "r1": ["cold-start", "rl", "rejection-sft", "final-rl"],
    }
    weight = {name: p.stages[-1].reward_kwargs["language_consistency"] for name, p in pipelines.items()}
    assert weight == {"zero": 0.0, "zero_lang": 1.0, "cold_start": 0.0, "r1": 0.0}
    assert pipelines["r1"].stages[1].reward_kwargs["language_consistency"] == 1.0
    assert pipelines["r1"].stages[2].student == recipe.model  # a fresh copy of the base

    def samples(pipeline):
        total = 0
        for plan in pipeline.stages:
            if isinstance(plan, RlStagePlan):
                per_step = (
                    plan.overrides["data.train_batch_size"] * plan.overrides["actor_rollout_ref.rollout.n"]
                )
                total += plan.overrides["trainer.total_training_steps"] * per_step
            elif plan.teacher is not None:  # rejection sampling: the teacher's samples
                total += plan.stage.section["max_prompts"] * plan.stage.section["k"]
        return total

    budgets = {name: samples(p) for name, p in pipelines.items()}
    assert budgets["zero"] == budgets["zero_lang"] == budgets["cold_start"] == 3840
    assert abs(budgets["r1"] - 3840) / 3840 < 0.05
    assert compile_pipelines(recipe, device="cpu")[-1].run_id == "countdown-mini-r1__r1__s3"


def test_plan_prints_every_stage_in_order_and_single_run_commands_refuse(capsys):
    assert run_command("plan", ["countdown-r1", "--no-data-check", "--profile", "recipe"]) == 0
    out = capsys.readouterr().out
    headers = [line for line in out.splitlines() if line.startswith("## stage")]
    assert [h.split(":")[0] for h in headers] == [
        "## stage 1 'cold-start' (sft)",
        "## stage 2 'reasoning-rl' (rl)",
        "## stage 3 'rejection-sft' (sft)",
        "## stage 4 'final-rl' (rl)",
    ]
    assert out.count("-m verl.trainer.sft_trainer") == 2 and out.count("-m verl.trainer.main_ppo") == 2
    assert run_command("train", ["countdown-r1", "--profile", "recipe"]) == 1
    assert "python -m launch pipeline countdown-r1" in capsys.readouterr().err


# ---- what a relaunch runs ----


def _pipeline(tmp_path):
    recipe = load_recipe("countdown-r1")
    return compile_pipeline(
        recipe, "default", 1, results_root=str(tmp_path / "results"), checkpoints_root=str(tmp_path / "ckpt")
    )


def _record(pipeline, tmp_path, statuses):
    """pipeline.json as the executor leaves it after stages ended with `statuses`."""
    state = pipeline_state.current_state(pipeline, tmp_path)
    for position, status in enumerate(statuses):
        pipeline_state.mark(state, position, status=status)
    pipeline_state.write_state(tmp_path / pipeline.run_dir, state, tmp_path)


def _refuse_to_run(*args):
    raise AssertionError("a stage ran")


def test_a_relaunch_resumes_at_the_first_unfinished_stage(tmp_path):
    pipeline = _pipeline(tmp_path)
    state = pipeline_state.current_state(pipeline, tmp_path)
    assert pipeline_state.first_to_run(pipeline, state) == 0
    _record(pipeline, tmp_path, ["finished", "finished", "failed"])
    state = pipeline_state.current_state(pipeline, tmp_path)
    assert pipeline_state.first_to_run(pipeline, state) == 2
    record = json.loads((tmp_path / pipeline.run_dir / "pipeline.json").read_text())
    assert record["finished_stages"] == ["cold-start", "reasoning-rl"]
    assert [entry["status"] for entry in record["stages"]] == ["finished", "finished", "failed", "pending"]


def test_a_finished_pipeline_runs_nothing_on_relaunch(tmp_path):
    pipeline = _pipeline(tmp_path)
    _record(pipeline, tmp_path, ["finished"] * 4)
    tools = type(LATER)(_refuse_to_run, _refuse_to_run, _refuse_to_run, _refuse_to_run)
    state = run_pipeline(pipeline, tools, root=tmp_path)
    assert state["status"] == "finished" and len(state["finished_stages"]) == 4


def test_rerun_from_runs_that_stage_and_every_later_one_again(tmp_path):
    pipeline = _pipeline(tmp_path)
    _record(pipeline, tmp_path, ["finished"] * 4)
    for plan in pipeline.stages:
        (tmp_path / plan.run_dir).mkdir(parents=True)
        (tmp_path / plan.run_dir / "run.json").write_text("{}")
        (tmp_path / plan.checkpoint_dir / "global_step_1").mkdir(parents=True)
    state = pipeline_state.current_state(pipeline, tmp_path)
    assert pipeline_state.first_to_run(pipeline, state, "rejection-sft") == 2
    moved = pipeline_state.clear_for_rerun(pipeline, state, 2, tmp_path)
    assert [path.name.split(".replaced-")[0] for path in moved] == ["03-rejection-sft", "04-final-rl"]
    assert all((path / "run.json").is_file() for path in moved)
    assert [entry["status"] for entry in state["stages"]] == ["finished", "finished", "pending", "pending"]
    assert (tmp_path / pipeline.stages[1].checkpoint_dir).is_dir()
    assert not (tmp_path / pipeline.stages[2].checkpoint_dir).exists()
    with pytest.raises(RecipeError, match="--rerun-from 'nope': stages are cold-start, reasoning-rl"):
        pipeline_state.first_to_run(pipeline, state, "nope")


def test_a_record_that_no_longer_matches_the_recipe_is_refused(tmp_path):
    pipeline = _pipeline(tmp_path)
    _record(pipeline, tmp_path, ["finished", "finished"])
    renamed = _write(
        tmp_path,
        "countdown-r1",
        stages=_stages(**{"reasoning-rl": {"name": "rl"}, "rejection-sft": {"teacher_stage": "rl"}}),
    )
    other = compile_pipeline(
        renamed, "default", 1, results_root=str(tmp_path / "results"), checkpoints_root=str(tmp_path / "ckpt")
    )
    state = pipeline_state.current_state(other, tmp_path)
    with pytest.raises(
        RecipeError, match=r"stage 2 finished as reasoning-rl \(rl\).*now rl \(rl\).*--rerun-from rl"
    ):
        pipeline_state.first_to_run(other, state)
    assert pipeline_state.first_to_run(other, state, "rl") == 1
    _record(pipeline, tmp_path, ["finished", "failed", "finished"])
    with pytest.raises(RecipeError, match="'reasoning-rl' is unfinished but later stage"):
        pipeline_state.first_to_run(pipeline, pipeline_state.current_state(pipeline, tmp_path))


def test_stages_finished_under_another_version_of_the_recipe_are_named_not_rerun(tmp_path):
    pipeline = _pipeline(tmp_path)
    _record(pipeline, tmp_path, ["finished", "finished"])
    record = json.loads((tmp_path / pipeline.run_dir / "pipeline.json").read_text())
    record["stages"][0]["recipe_sha256"] = pipeline.recipe.sha256
    record["stages"][1]["recipe_sha256"] = "an-older-recipe"
    (tmp_path / pipeline.run_dir / "pipeline.json").write_text(json.dumps(record))
    assert pipeline_state.stale_stages(pipeline, tmp_path) == ["reasoning-rl"]
    assert pipeline_state.first_to_run(pipeline, pipeline_state.current_state(pipeline, tmp_path)) == 2


def test_stage_plans_are_the_single_run_and_distill_types():
    pipeline = compile_pipeline(load_recipe("countdown-r1"), "default", 1, device="cpu")
    rl = pipeline.stages[1]
    assert isinstance(rl, RlStagePlan) and isinstance(pipeline.stages[0], SftStagePlan)
    assert rl.overrides["trainer.device"] == "cpu" and rl.extra_rollout_names == ("hfcpu",)
    assert rl.reproduce == "python -m launch pipeline countdown-r1 --variant default --seed 1 --device cpu"


@pytest.mark.parametrize("recipe, variant", [("countdown-r1", "default"), ("countdown-mini-r1", "r1")])
def test_rejection_sampling_keeps_only_english_chains_of_thought_as_r1(recipe, variant):
    from distill.plan import run_options
    from distill.stage import distill_run

    rejection = next(
        plan for plan in compile_pipeline(load_recipe(recipe), variant, 1).stages if plan.stage.teacher_stage
    )
    _, filters, _ = run_options(distill_run(rejection))
    assert filters.target_language == "en" and filters.strict_format
