"""launch.ref_reset: the segments, the conditions a reset needs (checked against composed verl configs), and a
real run on CPU whose KL term shows the reference moving to the policy at the reset."""

import copy
import dataclasses
import json

import pytest

from distill.stage import export_stage_model
from launch import ref_reset, smoke, verl_config
from launch.attempt import CHECKPOINT_TRACKER
from launch.plan import compile_run, expand
from launch.recipe import REPO_ROOT, RecipeError, load_recipe
from launch.validate import RunInvalid, validate_plans


def test_segments_cover_the_step_budget_in_parts_of_n_steps():
    assert ref_reset.segments(10, 30) == [
        ref_reset.SegmentPlan(0, 10, False),
        ref_reset.SegmentPlan(10, 20, False),
        ref_reset.SegmentPlan(20, 30, True),
    ]
    assert ref_reset.segments(100, 250)[-1] == ref_reset.SegmentPlan(200, 250, True)


@pytest.fixture(scope="module")
def reset_plan_and_config():
    recipe = load_recipe("countdown-ablations")
    plan = compile_run(recipe, "ref_reset", {}, 1)
    return plan, verl_config.validate(plan.resolved_overrides(REPO_ROOT))


def test_the_shipped_reset_variant_passes_and_says_so_in_its_plan(reset_plan_and_config):
    plan, config = reset_plan_and_config
    assert plan.ref_reset_every == 100
    ref_reset.check(plan, config)
    assert "# reference reset every 100 steps" in plan.render()


@pytest.mark.parametrize(
    "setting, value, named",
    [
        ("actor_rollout_ref.actor.use_kl_loss", False, "no KL term"),
        ("trainer.total_training_steps", 100, "step budget longer than 100"),
        ("trainer.save_freq", -1, "trainer.save_freq"),
        ("actor_rollout_ref.model.lora_rank", 16, "LoRA"),
        ("actor_rollout_ref.actor.optim.lr_scheduler_type", "cosine", "'cosine'"),
        ("actor_rollout_ref.actor.optim.lr_warmup_steps_ratio", 0.1, "lr_warmup_steps_ratio 0.1"),
    ],
)
def test_a_reset_that_would_change_nothing_or_something_else_is_refused(
    reset_plan_and_config, setting, value, named
):
    plan, config = reset_plan_and_config
    changed = copy.deepcopy(config)
    *parents, leaf = setting.split(".")
    node = changed
    for part in parents:
        node = node[part]
    node[leaf] = value
    with pytest.raises(ref_reset.RefResetInvalid, match=named):
        ref_reset.check(plan, changed)


def test_a_warmup_given_in_steps_is_kept_by_every_segment(reset_plan_and_config):
    plan, config = reset_plan_and_config
    changed = copy.deepcopy(config)
    changed["actor_rollout_ref"]["actor"]["optim"]["lr_warmup_steps"] = 10
    changed["actor_rollout_ref"]["actor"]["optim"]["lr_warmup_steps_ratio"] = 0.1
    ref_reset.check(plan, changed)


def test_validation_refuses_a_reset_without_kl_naming_the_run():
    recipe = load_recipe("countdown-mini-ablations")
    _, point, seed = next(expand(recipe, "grpo"))
    plan = dataclasses.replace(compile_run(recipe, "grpo", point, seed), ref_reset_every=10)
    with pytest.raises(
        RunInvalid, match="countdown-mini-ablations__grpo__s1: ref_reset_every 10: the run has no KL"
    ):
        validate_plans([plan], check_data_files=False)


def test_a_variant_that_sets_a_bad_interval_is_an_error_naming_it(tmp_path):
    recipe_file = tmp_path / "bad.yaml"
    recipe_file.write_text(
        f"base: {REPO_ROOT / 'recipes' / 'countdown-mini.yaml'}\nquestion: q\n"
        "sweep:\n  variants:\n    bad: {ref_reset_every: 0.5}\n"
    )
    recipe = load_recipe(str(recipe_file))
    with pytest.raises(RecipeError, match="variant 'bad': ref_reset_every must be a whole number"):
        compile_run(recipe, "bad", {}, 1)


def _checkpointed(tmp_path, last_step):
    recipe = load_recipe("countdown-mini-ablations")
    plan = compile_run(recipe, "kl_ref_reset", {}, 1, checkpoints_root=str(tmp_path / "checkpoints"))
    checkpoints = tmp_path / "checkpoints" / "countdown-mini-ablations" / plan.run_id
    checkpoints.mkdir(parents=True)
    (checkpoints / CHECKPOINT_TRACKER).write_text(f"{last_step}\n")
    return plan, checkpoints


def test_a_segment_converts_the_checkpoint_it_starts_from_and_drops_earlier_references(tmp_path):
    plan, checkpoints = _checkpointed(tmp_path, 20)
    (checkpoints / "reference" / "global_step_10").mkdir(parents=True)
    exported = []

    def export(checkpoint_dir, target):  # stands in for verl's model merger, which the slow test runs
        exported.append(checkpoint_dir)
        target.mkdir(parents=True)
        return target

    segment = ref_reset.next_segment(plan, REPO_ROOT)
    assert segment == ref_reset.SegmentPlan(20, 30, True)
    attempt = ref_reset.segment_attempt(plan, REPO_ROOT, segment, export)
    assert exported == [checkpoints]
    assert sorted(p.name for p in (checkpoints / "reference").iterdir()) == ["global_step_20"]
    assert attempt.overrides == {
        "trainer.total_training_steps": 30,
        "actor_rollout_ref.model.path": str(checkpoints / "reference" / "global_step_20"),
        "trainer.val_before_train": False,
    }
    assert attempt.record == {"steps": [21, 30], "reference": "checkpoint of step 20"} and attempt.last


def test_a_relaunch_mid_segment_needs_the_reference_it_started_with(tmp_path):
    plan, _ = _checkpointed(tmp_path, 15)  # stopped after step 15, in the segment that started at step 10
    segment = ref_reset.next_segment(plan, REPO_ROOT)
    assert segment == ref_reset.SegmentPlan(10, 20, False)
    with pytest.raises(ref_reset.RefResetInvalid, match="checkpoint of step 10.*no longer the last"):
        ref_reset.segment_attempt(plan, REPO_ROOT, segment, lambda *_: pytest.fail("nothing to convert"))


def _steps(path):
    return {row["step"]: row["data"] for row in map(json.loads, path.read_text().splitlines())}


@pytest.mark.slow
def test_a_run_with_resets_trains_in_segments_and_the_reference_follows_the_policy(tmp_path):
    # Three steps, a reset after step 2. A seeded-coin reward gives the random tiny model a gradient and a
    # high learning rate moves it visibly: the KL from the base grows at step 2; at step 3 the reference is
    # the policy of step 2, which step 3's single update starts from, so the KL term is back at zero.
    extra = {
        "ref_reset_every": 2,
        "reward_kwargs": {"control": "random"},
        "actor_rollout_ref.actor.optim.lr": 1.0e-3,
        "trainer.test_freq": 3,
    }
    plan, config = smoke.prepare(tmp_path, steps=3, extra=extra)
    result = ref_reset.train(
        plan,
        REPO_ROOT,
        export_stage_model,
        device="cpu",
        extra_env={"WANDB_MODE": "offline"},
        timeout_s=smoke.TRAINER_TIMEOUT_S,
        config=config,
    )
    run_dir = REPO_ROOT / plan.run_dir
    record = json.loads((run_dir / "run.json").read_text())
    assert result.status == "finished", (run_dir / f"stdout.attempt-{result.attempt}.log").read_text()[-3000:]
    assert record["status"] == "finished" and record["ref_reset_every"] == 2
    assert [a["segment"] for a in record["attempts"]] == [
        {"steps": [1, 2], "reference": "the model"},
        {"steps": [3, 3], "reference": "checkpoint of step 2"},
    ]
    reference = REPO_ROOT / ref_reset.reference_dir(plan, 2)
    assert (reference / "config.json").is_file()
    # The last attempt's command: the reference (and the actor's start, which the resume then replaces).
    assert any(
        arg.startswith("actor_rollout_ref.model.path=") and "reference/global_step_2" in arg
        for arg in record["command"]
    )
    assert "global_step_2" in (run_dir / "stdout.attempt-2.log").read_text()
    metrics = _steps(run_dir / "metrics.jsonl")
    kl = {step: metrics[step]["actor/kl_loss"] for step in (1, 2, 3)}
    # Measured: 0, 1.4e-3, 1.2e-7 (the two engines agree to float precision, not exactly).
    assert kl[2] > 1e-4, kl  # the policy moved away from the base during step 1
    assert kl[3] < kl[2] / 100, kl  # and the reference moved with it at the reset
