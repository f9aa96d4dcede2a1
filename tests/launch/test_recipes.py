"""Every shipped recipe, every run, validated against the pinned verl and real (small) data; and the ways a
recipe can be wrong, each failing with the file, run and key named."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from data_prep.tasks import build_command
from launch.plan import compile_recipe
from launch.recipe import RECIPES_DIR, REPO_ROOT, RecipeError, list_recipes, load_profile, load_recipe
from launch.validate import RunInvalid, validate_plans

SHIPPED = [
    "countdown-3b",
    "countdown-ablations",
    "countdown-distill",
    "countdown-mini-distill",
    "countdown-mini",
    "countdown-mini-ablations",
    "countdown-r1",
    "countdown-mini-long",
    "countdown-mini-r1",
    "game24-3b",
    "math-1.5b",
    "debug",
]


def _math_sources(root: Path) -> dict[str, Path]:
    """Tiny local copies in the hub's column layouts (the hub is unreachable in tests)."""
    math_dir = root / "math-src"
    math_dir.mkdir()
    rows = [
        {
            "problem": f"What is {i} + {i}?",
            "solution": f"It is $\\boxed{{{2 * i}}}$.",
            "level": "Level 1",
            "type": "Algebra",
        }
        for i in range(8)
    ]
    (math_dir / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:6]))
    (math_dir / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[6:]))
    math500 = root / "math500.jsonl"
    math500.write_text(
        "".join(
            json.dumps(
                {"problem": "1+1?", "answer": "2", "unique_id": f"u{i}", "subject": "Algebra", "level": 1}
            )
            + "\n"
            for i in range(3)
        )
    )
    aime = root / "aime24.jsonl"
    aime.write_text("".join(json.dumps({"problem": "2+2?", "answer": "4", "id": i}) + "\n" for i in range(3)))
    return {"math": math_dir, "math500": math500, "aime24": aime}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Small builds, by the real data_prep CLI, of every (task, template) the shipped recipes use."""
    root = tmp_path_factory.mktemp("zerolab-data")
    sources = _math_sources(root)
    needed = set()
    for name in SHIPPED:
        recipe = load_recipe(name)
        if (
            recipe.stages is not None
        ):  # a multi-stage recipe's variants patch stages: its own task and template
            needed |= {(task, recipe.template) for task in [recipe.task, *recipe.val_tasks]}
            continue
        for plan in compile_recipe(recipe):
            needed |= {(task, plan.template) for task in [plan.task, *plan.val_tasks]}
    for task, template in sorted(needed):
        command = build_command(task, template, str(root / "data"))
        if task == "countdown":
            command += ["--train-size", "48", "--test-size", "16"]
        if task in sources:
            command += ["--source", str(sources[task])]
        subprocess.run(command, check=True, capture_output=True)
    return root / "data"


def test_shipped_recipes_are_the_runnable_ones():
    assert sorted(list_recipes()) == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_run_of_every_shipped_recipe_validates(name, data_dir, monkeypatch):
    monkeypatch.chdir("/")  # data paths must come from the plan, not the working directory
    recipe = load_recipe(name)
    if recipe.distill is not None:  # SFT runs: keys checked against verl's sft_trainer_engine (distill.plan)
        from distill.plan import validate_distill_recipe

        assert validate_distill_recipe(recipe, check_data_files=True, data_dir=str(data_dir)) > 0
        return
    if (
        recipe.stages is not None
    ):  # every stage: RL keys against ppo_trainer, SFT keys against sft_trainer_engine
        from distill.stage import later_stages
        from launch.stages.plan import compile_pipelines
        from launch.stages.run import validate_pipelines

        pipelines = compile_pipelines(recipe, data_dir=str(data_dir))
        assert validate_pipelines(pipelines, later_stages(), check_data_files=True)
        return
    plans = compile_recipe(recipe, data_dir=str(data_dir))
    validate_plans(plans, check_data_files=True)
    assert len({plan.run_id for plan in plans}) == len(plans)
    assert all(
        plan.run_id.startswith(f"{name}__") and plan.run_id.rsplit("__", 1)[1].startswith("s")
        for plan in plans
    )


def test_variants_pick_a_subset_and_an_unknown_name_lists_the_known_ones(tmp_path):
    from launch.plan import select_variants

    recipe = load_recipe("countdown-ablations")
    assert select_variants(recipe, "grpo,dr_grpo") == ["grpo", "dr_grpo"]
    assert select_variants(recipe, "") == [None]
    with pytest.raises(RecipeError, match="no variant 'drgrpo'; variants: grpo, ppo, dr_grpo"):
        select_variants(recipe, "grpo,drgrpo")
    done = subprocess.run(
        [sys.executable, "-m", "launch", "sweep", "countdown-ablations", "--variants", "grpo,dr_grpo",
         "--dry-run", "--profile", "recipe", "--results-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO_ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ids = [line[2:] for line in done.stdout.splitlines() if line.startswith("# countdown-ablations__")]
    assert ids == [f"countdown-ablations__{v}__s{s}" for v in ("grpo", "dr_grpo") for s in (1, 2, 3)]


def test_ablation_sweep_is_variants_times_seeds():
    plans = compile_recipe(load_recipe("countdown-ablations"))
    recipe = load_recipe("countdown-ablations")
    assert len(plans) == len(recipe.sweep.variants) * len(recipe.sweep.seeds) == 28 * 3
    by_id = {plan.run_id: plan for plan in plans}
    assert by_id["countdown-ablations__ref_reset__s1"].ref_reset_every == 100
    instruct = by_id["countdown-ablations__instruct__s2"]
    assert instruct.model == "Qwen/Qwen2.5-3B-Instruct" and instruct.template == "instruct"
    assert instruct.overrides["actor_rollout_ref.model.custom_chat_template"] is None
    assert instruct.overrides["data.train_files"] == "data/countdown/instruct/train.parquet"
    assert by_id["countdown-ablations__size_7b__s1"].overrides["trainer.n_gpus_per_node"] == 2
    strict = by_id["countdown-ablations__format_strict__s1"].overrides
    assert strict["+reward.custom_reward_function.reward_kwargs.strict_format"] is True
    assert (
        strict["+reward.custom_reward_function.reward_kwargs.format_score"] == 0.1
    )  # inherited from countdown-3b
    assert by_id["countdown-ablations__grpo__s3"].overrides["data.seed"] == 3


def test_countdown_3b_is_r1_zero_grpo_with_the_reward_wired_through_the_new_keys():
    plan = compile_recipe(load_recipe("countdown-3b"), variant="default")[0]
    o = plan.overrides
    assert o["algorithm.adv_estimator"] == "grpo" and o["actor_rollout_ref.rollout.n"] == 8
    assert (
        o["actor_rollout_ref.actor.use_kl_loss"] is True
        and o["actor_rollout_ref.actor.kl_loss_type"] == "low_var_kl"
    )
    assert o["actor_rollout_ref.actor.kl_loss_coef"] == 0.001 and o["algorithm.use_kl_in_reward"] is False
    assert o["actor_rollout_ref.actor.optim.lr"] == 1e-6 and o["data.train_batch_size"] == 256
    assert o["data.max_response_length"] == 1024 and o["actor_rollout_ref.rollout.name"] == "vllm"
    assert o["reward.custom_reward_function.path"] == "rewards/verl_reward.py"
    assert not any(key.startswith(("custom_reward_function", "reward_model")) for key in o)
    assert o["trainer.logger"] == ["console", "file", "wandb"] and o["trainer.resume_mode"] == "auto"
    assert o["trainer.project_name"] == "countdown-3b" and o["trainer.experiment_name"] == plan.run_id
    assert plan.env["WANDB_RUN_GROUP"] == "countdown-3b" and plan.env["WANDB_TAGS"] == "default,s1"
    ppo = compile_recipe(load_recipe("countdown-3b"), variant="tinyzero_ppo")[0].overrides
    assert ppo["algorithm.adv_estimator"] == "gae" and ppo["actor_rollout_ref.rollout.n"] == 1
    assert ppo["critic.model.path"] == "Qwen/Qwen2.5-3B"


def _write_recipe(tmp_path: Path, body: dict) -> str:
    path = tmp_path / "probe.yaml"
    path.write_text(
        yaml.safe_dump({"base": str(RECIPES_DIR / "countdown-3b.yaml"), "question": "probe?", **body})
    )
    return str(path)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"overrides": {"actor_rollout_ref.actor.use_kl_los": False}},
            r"use_kl_los.*did you mean actor_rollout_ref.actor.use_kl_loss",
        ),
        (
            {"overrides": {"custom_reward_function.path": "x.py"}},
            r"'custom_reward_function.path'.*silently ignored",
        ),
        ({"overrides": {"reward_model.reward_manager": "dapo"}}, r"reward.reward_manager.name"),
        ({"overrides": {"algorithm.adv_estimator": "grpo_typo"}}, r"adv_estimator=grpo_typo"),
        (
            {
                "overrides": {
                    "data.train_batch_size": 3,
                    "actor_rollout_ref.rollout.n": 3,
                    "actor_rollout_ref.actor.use_dynamic_bsz": False,
                    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": 1,
                },
                "profile": "2x80gb",
            },
            r"divisible",
        ),
        (
            {"sweep": {"variants": {"bad": {"actor_rollout_ref.rollout.nn": 4}}}},
            r"probe__bad__s1.*rollout.nn",
        ),
        ({"reward_kwargs": {"format_scor": 0.2}}, r"reward_kwargs.*format_scor"),
    ],
)
def test_a_wrong_recipe_fails_naming_the_key(tmp_path, body, expected):
    plans = compile_recipe(load_recipe(_write_recipe(tmp_path, body)))
    with pytest.raises(RunInvalid, match=expected):
        validate_plans(plans, check_data_files=False)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"modle": "x"}, r"probe.yaml: modle: Extra inputs are not permitted"),
        ({"sweep": {"seeds": "one"}}, r"probe.yaml: sweep.seeds"),
        ({"sweep": {"variants": {}}}, r"probe.yaml: sweep.variants: .*at least one variant"),
        ({"sweep": {"variants": {"v": {"lr": 1}}}}, r"'lr' is neither a verl dotted key nor a recipe field"),
        ({"overrides": {"data.train_files": "mine.parquet"}}, r"'data.train_files' is set by the launcher"),
        (
            {"sweep": {"variants": {"v": {"trainer.experiment_name": "x"}}}},
            r"'trainer.experiment_name' is set by the launcher",
        ),
        ({"profile": "1x3090"}, r"no hardware profile '1x3090'"),
        ({"template": "chatty"}, r"unknown prompt template 'chatty'"),
    ],
)
def test_a_malformed_recipe_is_a_schema_error_naming_file_and_field(tmp_path, body, expected):
    with pytest.raises((RecipeError, ValueError), match=expected):
        compile_recipe(load_recipe(_write_recipe(tmp_path, body)))


def test_missing_data_is_an_error_naming_the_file_and_the_build_command(tmp_path):
    plans = compile_recipe(load_recipe("countdown-3b"), variant="default", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(
        RunInvalid,
        match=r"data.train_files: .*nowhere/countdown/base/train.parquet does not exist; build it with: python -m data_prep countdown",
    ):
        validate_plans(plans)


def test_data_built_with_another_template_is_rejected(data_dir, tmp_path):
    mixed = tmp_path / "data"
    shutil.copytree(data_dir / "countdown" / "instruct", mixed / "countdown" / "base")
    plans = compile_recipe(load_recipe("countdown-3b"), variant="default", data_dir=str(mixed))
    with pytest.raises(
        RunInvalid, match=r"built with template\(s\) \['instruct'\] but the recipe uses template 'base'"
    ):
        validate_plans(plans)


def test_profiles_may_only_move_memory_knobs(tmp_path, monkeypatch):
    from launch import recipe as recipe_module

    (tmp_path / "cheat.yaml").write_text(
        yaml.safe_dump({"sized_for": "x", "overrides": {"actor_rollout_ref.actor.optim.lr": 1e-5}})
    )
    monkeypatch.setattr(recipe_module, "PROFILES_DIR", tmp_path)
    with pytest.raises(
        RecipeError, match=r"'actor_rollout_ref.actor.optim.lr' is not a memory/throughput knob"
    ):
        load_profile("cheat")


def test_every_shipped_profile_says_what_it_was_sized_for():
    profiles = sorted(p.stem for p in (RECIPES_DIR / "profiles").glob("*.yaml"))
    assert {"1x80gb", "2x80gb", "4x80gb", "8x80gb", "1xh200", "1x40gb", "1x24gb"} <= set(profiles)
    for name in profiles:
        assert load_profile(name).sized_for
        assert "Sized for:" in (RECIPES_DIR / "profiles" / f"{name}.yaml").read_text()


def test_validate_cli_exits_nonzero_naming_the_problem(tmp_path):
    bad = _write_recipe(tmp_path, {"overrides": {"trainer.total_epoch": 3}})
    result = subprocess.run(
        [sys.executable, "-m", "launch", "validate", bad, "--no-data-check"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "trainer.total_epoch" in result.stderr and "did you mean trainer.total_epochs" in result.stderr


def test_plan_prints_before_the_data_exists_and_warns_how_to_build_it(tmp_path):
    command = [sys.executable, "-m", "launch", "plan", "debug", "--data-dir", str(tmp_path / "none")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0 and "# debug__default__s1" in result.stdout
    assert "plan: warning: debug__default__s1: data.train_files" in result.stderr
    assert "python -m data_prep countdown --out" in result.stderr
    broken = _write_recipe(tmp_path, {"overrides": {"trainer.total_epoch": 3}})
    assert (
        subprocess.run([sys.executable, "-m", "launch", "plan", broken], capture_output=True).returncode == 1
    )


def _steps_verl_runs(total_epochs: int, total_training_steps: int, rows: int, batch: int) -> int:
    """What verl 0.9.1's loop (`while epoch < total_epochs and step <= total_training_steps`, drop_last
    batches: trainer/ppo/v1/trainer_base.py) trains for `rows` training rows."""
    return min(total_epochs * (rows // batch), total_training_steps)


def test_a_step_budget_is_never_cut_short_by_the_epoch_count():
    # MATH's train split: 7,500 rows; 128 per step is 58 steps per epoch, and the recipe asks for 300.
    math_run = compile_recipe(load_recipe("math-1.5b"))[0].overrides
    assert _steps_verl_runs(math_run["trainer.total_epochs"], 300, rows=7_500, batch=128) == 300
    for name in SHIPPED:
        recipe = load_recipe(name)
        if recipe.stages is None:
            plans = compile_recipe(recipe)
        else:  # a multi-stage recipe's RL stages
            from launch.stages.plan import RlStagePlan, compile_pipelines

            plans = [
                p for pipe in compile_pipelines(recipe) for p in pipe.stages if isinstance(p, RlStagePlan)
            ]
        for plan in plans:
            steps = plan.overrides.get("trainer.total_training_steps")
            if steps is not None:  # enough epochs for any data set holding at least one batch
                assert plan.overrides["trainer.total_epochs"] >= steps, plan.run_id
    game24 = compile_recipe(load_recipe("game24-3b"))[0].overrides
    assert game24["trainer.total_epochs"] == 60 and "trainer.total_training_steps" not in game24


def test_dr_grpo_normalises_by_the_constant_response_budget():
    plan = compile_recipe(load_recipe("countdown-ablations"), variant="dr_grpo", seed=1)[0]
    scale = plan.overrides["actor_rollout_ref.actor.loss_scale_factor"]
    assert scale == plan.overrides["data.max_response_length"] == 1024


def test_tinyzero_ppo_keeps_tinyzeros_entropy_bonus():
    for recipe, variant in [("countdown-3b", "tinyzero_ppo"), ("countdown-ablations", "ppo")]:
        plan = compile_recipe(load_recipe(recipe), variant=variant, seed=1)[0]
        assert plan.overrides["actor_rollout_ref.actor.entropy_coeff"] == 0.001


def test_the_profiles_critic_token_budget_reaches_the_key_verls_v1_trainer_reads():
    from omegaconf import OmegaConf
    from verl.utils.config import omega_conf_to_dataclass

    from launch import verl_config

    plan = compile_recipe(load_recipe("countdown-3b"), variant="tinyzero_ppo")[0]
    config = verl_config.compose(plan.overrides)
    # The critic's model config is loaded on conversion: the offline stand-in replaces the hub model.
    stand_in = {"critic": {"model": {"path": verl_config._offline_stand_in_model()}}}
    critic = omega_conf_to_dataclass(OmegaConf.merge(config, stand_in).critic)
    # trainer/ppo/v1/trainer_base.py:267 sizes the critic engine from this field alone.
    assert critic.ppo_infer_max_token_len_per_gpu == 16384
    assert critic.engine.param_offload and critic.engine.optimizer_offload


def test_nano_aha_is_sized_like_the_run_it_cites():
    # nano-aha-moment's nano_r1_script.py (commit f5b6820): 1000 iterations of 64 episodes (16 prompts x 4
    # samples), one optimizer step each, 1024-token responses, lr 1e-6, KL 0.001, on Qwen2.5-3B base.
    plan = compile_recipe(load_recipe("countdown-3b"), variant="nano_aha")[0]
    o = plan.overrides
    assert plan.model == "Qwen/Qwen2.5-3B"
    assert (o["data.train_batch_size"], o["actor_rollout_ref.rollout.n"]) == (16, 4)
    # One optimizer step per iteration: the mini-batch is the whole batch.
    assert o["actor_rollout_ref.actor.ppo_mini_batch_size"] == o["data.train_batch_size"]
    assert o["trainer.total_training_steps"] == 1000 and o["data.max_response_length"] == 1024
    assert o["actor_rollout_ref.actor.optim.lr"] == 1e-6
    assert o["actor_rollout_ref.actor.kl_loss_coef"] == 0.001
