"""The run doctor on run records written the way a real run writes them: verl 0.9.1's own FileLogger for the
metrics (key names as the CPU smoke run logged them), verl's rollout/validation dump rows, run.json as the
launcher writes it. A healthy history fires nothing; each pathology fires exactly its finding."""

import json
import math
from pathlib import Path

import pytest

from launch import records
from launch.cli import doctor_main
from launch.doctor.history import diagnose_run
from launch.doctor.live import ALARM_MARK, LiveDoctor, alarm_line
from launch.doctor.rules import DoctorSettings
from launch.recipe import RECIPES_DIR, RecipeError, load_recipe

STEPS = 30
VAL_STEPS = (0, 10, 20, 30)
ACC = "val-core/countdown/acc/mean@1"
FORMAT = "val-aux/countdown/format/mean@1"
HAS_ANSWER = "val-aux/countdown/has_answer/mean@1"
TIMED_OUT = "val-aux/countdown/timed_out/mean@1"
# Four GRPO groups of four samples; one group scored all alike: a zero-variance share of 0.25.
BUDGET = 1024  # data.max_response_length of the runs written here
HEALTHY_GROUPS = ([0.0, 1.0, 0.0, 0.1], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 1.0], [0.1, 0.0, 0.0, 0.0])


def train_step(step: int) -> dict:
    """A learning run's training metrics (names as verl 0.9.1 logs them)."""
    return {
        "training/global_step": float(step),
        "training/epoch": 0.0,
        "actor/entropy": 0.6 - 0.01 * step,
        "actor/kl_loss": 0.0005 * step,
        "actor/pg_clipfrac": 0.002,
        "actor/pg_loss": -0.01,
        "actor/grad_norm": 0.3,
        "actor/ppo_kl": 0.0001,
        "critic/score/mean": 0.1 + 0.02 * step,
        "critic/score/max": 1.0,
        "critic/score/min": 0.0,
        "critic/rewards/mean": 0.1 + 0.02 * step,
        "response_length/mean": 200.0 + 5 * step,
        "response_length/max": float(BUDGET),
        "response_length/min": 40.0,
        "response_length/clip_ratio": 0.02,
    }


def healthy_metrics(acc=(0.05, 0.2, 0.35, 0.5), fmt=(0.3, 0.6, 0.8, 0.9), timed_out=0.0) -> dict[int, dict]:
    metrics = {step: train_step(step) for step in range(1, STEPS + 1)}
    metrics[0] = {}
    for step, a, f in zip(VAL_STEPS, acc, fmt, strict=True):
        metrics[step].update({ACC: a, FORMAT: f, HAS_ANSWER: f, TIMED_OUT: timed_out})
    return metrics


def file_log(path: Path, steps: dict[int, dict]) -> None:
    """Write `steps` exactly as verl 0.9.1's file logger does (NaN becomes null, as orjson writes it)."""
    from verl.utils.tracking import FileLogger

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VERL_FILE_LOGGER_PATH", str(path))
        logger = FileLogger("countdown-3b", path.parent.name)
    for step, data in sorted(steps.items()):
        logger.log(data, step)
    logger.finish()


def dump(path: Path, step: int, groups, extra=None) -> None:
    """A verl generation dump: one row per sample, `uid` as `<group>_<session>_<index>`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for g, scores in enumerate(groups):
        for i, score in enumerate(scores):
            row = {"input": f"prompt {g}", "output": "...", "gts": {}, "score": score, "step": step}
            rows.append({**row, "uid": f"{g:08x}-0000-4000-8000-000000000000_{i}_0", **(extra or {})})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def write_run(
    root: Path,
    metrics=None,
    groups=HEALTHY_GROUPS,
    planned=STEPS,
    attempts=None,
    overrides=None,
    doctor=None,
) -> Path:
    run_dir = root / "countdown-3b__default__s1"
    run_dir.mkdir(parents=True)
    attempts = attempts or [None]  # per attempt: the steps its metrics file holds (None: all of `metrics`)
    record = {
        "run_id": run_dir.name,
        "status": "finished",
        "overrides": {"trainer.total_training_steps": planned, **(overrides or {})},
        "attempts": [
            {"attempt": k, "exit_code": 0, "status": "finished"} for k in range(1, len(attempts) + 1)
        ],
        **({"doctor": {"settings": doctor}} if doctor else {}),
    }
    (run_dir / "run.json").write_text(json.dumps(record))
    # config.yaml as records.write_config leaves it: verl's resolved config (only the part the doctor reads).
    (run_dir / "config.yaml").write_text(
        f"data:\n  max_response_length: {BUDGET}\n  max_prompt_length: 256\n"
    )
    metrics = healthy_metrics() if metrics is None else metrics
    for k, part in enumerate(attempts, start=1):
        file_log(run_dir / f"metrics.attempt-{k}.jsonl", metrics if part is None else part)
    if groups is not None:
        for step in range(1, STEPS + 1):
            dump(run_dir / "rollouts" / f"{step}.jsonl", step, groups)
    for step in VAL_STEPS:
        dump(run_dir / "validation" / f"{step}.jsonl", step, [[0.0, 1.0]], {"has_answer": 1, "acc": 0})
    return run_dir


def names(run_dir: Path) -> list[str]:
    return [finding.name for finding in diagnose_run(run_dir)[0]]


def test_a_healthy_run_has_no_findings(tmp_path, capsys):
    run_dir = write_run(tmp_path)
    capsys.readouterr()
    findings, history, _ = diagnose_run(run_dir)
    assert findings == []
    assert set(history.zero_std_share.values()) == {0.25} and len(history.zero_std_share) == STEPS
    assert doctor_main([str(run_dir)]) == 0
    assert "no finding(s)" in capsys.readouterr().out


def test_no_signal_from_the_rollout_dumps(tmp_path):
    # Every group scored alike, though the batch as a whole still spans 0..1 (critic/score/max != min):
    # only the dumps can tell.
    run_dir = write_run(tmp_path, groups=([0.0] * 4, [1.0] * 4, [0.1] * 4, [0.0] * 4))
    (finding,) = diagnose_run(run_dir)[0]
    assert finding.name == "no-signal" and (finding.first_step, finding.last_step) == (1, 5)
    assert "zero reward variance 1, 1, 1, 1" in finding.evidence


def test_no_signal_without_dumps_when_the_whole_batch_scored_the_same(tmp_path):
    metrics = healthy_metrics()
    for step in range(1, STEPS + 1):
        metrics[step].update({"critic/score/max": 0.0, "critic/score/min": 0.0, "critic/score/mean": 0.0})
    assert names(write_run(tmp_path / "flat", metrics=metrics, groups=None)) == ["no-signal"]
    # Without dumps and with a spread of scores the share is unknown: nothing is claimed.
    assert names(write_run(tmp_path / "unknown", groups=None)) == []


def test_format_hacking_and_a_control_run_is_exempt(tmp_path):
    metrics = healthy_metrics(acc=(0.02, 0.02, 0.03, 0.02), fmt=(0.1, 0.5, 0.9, 1.0))
    (finding,) = diagnose_run(write_run(tmp_path / "run", metrics=metrics))[0]
    assert finding.name == "format-hacking" and (finding.first_step, finding.last_step) == (0, 10)
    assert "format 0.10 -> 0.50" in finding.evidence
    control = {"+reward.custom_reward_function.reward_kwargs.control": "format_only"}
    assert names(write_run(tmp_path / "control", metrics=metrics, overrides=control)) == []
    # `control: none` is the ordinary reward, not a control.
    plain = {"+reward.custom_reward_function.reward_kwargs.control": "none"}
    assert names(write_run(tmp_path / "plain", metrics=metrics, overrides=plain)) == ["format-hacking"]


def test_truncation(tmp_path):
    metrics = healthy_metrics()
    for step in range(12, STEPS + 1):
        metrics[step]["response_length/clip_ratio"] = 0.45
    (finding,) = diagnose_run(write_run(tmp_path, metrics=metrics))[0]
    assert (finding.name, finding.first_step, finding.last_step) == ("truncation", 12, 14)
    assert "1024-token budget 0.45, 0.45, 0.45" in finding.evidence
    assert "verl's response_length/clip_ratio 0.45" in finding.evidence


def test_equal_short_responses_are_not_truncation(tmp_path):
    """verl's clip_ratio compares with the padded width: a step whose responses all have the same length
    reads 1.0 (countdown-mini__no_prior__s1: 12-token responses, a 224-token budget)."""
    metrics = healthy_metrics()
    for step in range(1, STEPS + 1):
        metrics[step].update(
            {"response_length/mean": 12.0, "response_length/max": 12.0, "response_length/min": 12.0}
        )
        metrics[step]["response_length/clip_ratio"] = 1.0
    assert names(write_run(tmp_path / "short", metrics=metrics)) == []
    # The same responses at a 12-token budget are all cut off.
    run_dir = write_run(tmp_path / "cut", metrics=metrics)
    (run_dir / "config.yaml").write_text("data:\n  max_response_length: 12\n")
    assert names(run_dir) == ["truncation"]


def test_truncation_is_not_judged_without_a_budget(tmp_path):
    metrics = healthy_metrics()
    for step in range(1, STEPS + 1):
        metrics[step]["response_length/clip_ratio"] = 1.0
    run_dir = write_run(tmp_path, metrics=metrics)
    (run_dir / "config.yaml").unlink()
    assert names(run_dir) == []
    (run_dir / "config.yaml").write_text("data: {max_response_length: 1024}\n")
    assert names(run_dir) == ["truncation"]


def test_entropy_collapse_only_while_accuracy_is_not_near_one(tmp_path):
    metrics = healthy_metrics()
    for step in range(10, STEPS + 1):
        metrics[step]["actor/entropy"] = 0.01
    assert names(write_run(tmp_path / "low", metrics=metrics)) == ["entropy-collapse"]
    solved = healthy_metrics(acc=(0.92, 0.95, 0.96, 0.97))
    for step in range(10, STEPS + 1):
        solved[step]["actor/entropy"] = 0.01
    assert names(write_run(tmp_path / "solved", metrics=solved)) == []


def test_entropy_under_dr_grpos_aggregation_is_judged_per_token(tmp_path):
    # verl logs actor/entropy with the actor's loss_agg_mode: under seq-mean-token-sum-norm it is each
    # sequence's entropy sum over loss_scale_factor (1024 here), about a quarter of the per-token mean at
    # ~260-token responses. 0.03 logged that way is ~0.1 nats per token: no collapse.
    dr_grpo = {
        "actor_rollout_ref.actor.loss_agg_mode": "seq-mean-token-sum-norm",
        "actor_rollout_ref.actor.loss_scale_factor": BUDGET,
    }

    def logged(value):
        metrics = healthy_metrics()
        for step in range(10, STEPS + 1):
            metrics[step]["actor/entropy"] = value
        return metrics

    assert names(write_run(tmp_path / "dr", metrics=logged(0.03), overrides=dr_grpo)) == []
    assert names(write_run(tmp_path / "token-mean", metrics=logged(0.03))) == ["entropy-collapse"]
    (finding,) = diagnose_run(write_run(tmp_path / "collapsed", metrics=logged(0.002), overrides=dr_grpo))[0]
    assert (
        finding.name == "entropy-collapse"
        and "per token (seq-mean-token-sum-norm rescaled)" in finding.evidence
    )


def test_kl_blowup_and_clip_fraction(tmp_path):
    metrics = healthy_metrics()
    for step in range(20, STEPS + 1):
        metrics[step]["actor/kl_loss"] = 0.8
    (finding,) = diagnose_run(write_run(tmp_path / "kl", metrics=metrics))[0]
    assert (finding.name, finding.first_step) == ("kl-blowup", 20) and "actor/kl_loss" in finding.evidence
    clipped = healthy_metrics()
    for step in range(25, STEPS + 1):
        clipped[step]["actor/pg_clipfrac"] = 0.3
    assert names(write_run(tmp_path / "clip", metrics=clipped)) == ["kl-blowup"]


def test_non_finite_gradient_norm_logged_as_null(tmp_path):
    metrics = healthy_metrics()
    metrics[7]["actor/grad_norm"] = math.nan
    run_dir = write_run(tmp_path, metrics=metrics)
    assert '"actor/grad_norm":null' in (run_dir / "metrics.attempt-1.jsonl").read_text()
    (finding,) = diagnose_run(run_dir)[0]
    assert (finding.name, finding.first_step) == ("non-finite", 7) and "actor/grad_norm" in finding.evidence


def test_no_progress_a_resume_that_trained_nothing(tmp_path):
    # Attempt 2 exited 0 after re-running validation only (resumed at the end of the step budget).
    only_validation = {STEPS: {ACC: 0.5, FORMAT: 0.9, HAS_ANSWER: 0.9, TIMED_OUT: 0.0}}
    run_dir = write_run(tmp_path, attempts=[None, only_validation])
    (finding,) = diagnose_run(run_dir)[0]
    assert finding.name == "no-progress" and "attempt 2 exited 0" in finding.evidence
    assert finding.first_step == STEPS


def test_no_progress_fewer_steps_than_planned(tmp_path):
    (finding,) = diagnose_run(write_run(tmp_path, planned=40))[0]
    assert finding.name == "no-progress" and "step 30 of 40 planned" in finding.evidence


def test_no_progress_is_not_judged_while_an_attempt_runs(tmp_path):
    # Attempt 2 resumed at step 30 of 40 and is still running (exit code null in run.json).
    run_dir = write_run(tmp_path, planned=40, attempts=[None, {}])
    record = json.loads((run_dir / "run.json").read_text())
    record["attempts"][1].update(exit_code=None, status="running")
    (run_dir / "run.json").write_text(json.dumps(record))
    # config.yaml as records.write_config leaves it: verl's resolved config (only the part the doctor reads).
    (run_dir / "config.yaml").write_text(
        f"data:\n  max_response_length: {BUDGET}\n  max_prompt_length: 256\n"
    )
    assert names(run_dir) == []


def test_no_progress_judges_a_segment_by_its_own_end(tmp_path):
    # A run with reference resets (launch/ref_reset.py): attempt 1 trained steps 1-30 of 40 and ended its segment.
    run_dir = write_run(tmp_path, planned=40)
    record = json.loads((run_dir / "run.json").read_text())
    record["attempts"][0]["segment"] = {"steps": [1, 30], "reference": "the model"}
    (run_dir / "run.json").write_text(json.dumps(record))
    assert names(run_dir) == []
    record["attempts"][0]["segment"] = {"steps": [1, 40], "reference": "the model"}
    (run_dir / "run.json").write_text(json.dumps(record))
    assert names(run_dir) == ["no-progress"]


def test_val_collapse(tmp_path):
    metrics = healthy_metrics(acc=(0.05, 0.4, 0.45, 0.25))
    (finding,) = diagnose_run(write_run(tmp_path, metrics=metrics))[0]
    assert (finding.name, finding.first_step, finding.last_step) == ("val-collapse", 20, 30)


def test_reward_parse_credit_without_an_answer_and_timeouts(tmp_path):
    run_dir = write_run(tmp_path / "credit")
    # 1 of 8 validation responses had no answer and still scored as correct (open-r1 #293).
    dump(
        run_dir / "validation" / "20.jsonl",
        20,
        [[1.0, 0.0, 0.0, 0.0]],
        {"has_answer": 1, "acc": 0},
    )
    rows = (run_dir / "validation" / "20.jsonl").read_text().splitlines()
    broken = {**json.loads(rows[0]), "has_answer": 0, "acc": 1}
    (run_dir / "validation" / "20.jsonl").write_text("\n".join([json.dumps(broken), *rows[1:]]) + "\n")
    (finding,) = diagnose_run(run_dir)[0]
    assert (
        finding.name == "reward-parse" and "25.0% of responses without a readable answer" in finding.evidence
    )
    assert names(write_run(tmp_path / "timeouts", metrics=healthy_metrics(timed_out=0.05))) == [
        "reward-parse"
    ]


def test_the_language_reward_on_an_answerless_response_is_not_credit_for_an_answer(tmp_path):
    run_dir = write_run(tmp_path / "language")
    dump(run_dir / "validation" / "20.jsonl", 20, [[1.0, 0.0, 0.0, 0.0]], {"has_answer": 1, "acc": 0})
    rows = (run_dir / "validation" / "20.jsonl").read_text().splitlines()
    # No answer, wrong, and 0.5 from the language reward only: not the reward-parse failure.
    words_only = {**json.loads(rows[1]), "has_answer": 0, "score": 0.5, "lang_bonus": 0.5}
    (run_dir / "validation" / "20.jsonl").write_text(
        "\n".join([rows[0], json.dumps(words_only), *rows[2:]]) + "\n"
    )
    assert names(run_dir) == []
    # The same row with a score beyond its language bonus is credit without an answer.
    credited = {**words_only, "score": 1.5}
    (run_dir / "validation" / "20.jsonl").write_text(
        "\n".join([rows[0], json.dumps(credited), *rows[2:]]) + "\n"
    )
    assert names(run_dir) == ["reward-parse"]


def test_recipe_thresholds_are_applied_from_run_json(tmp_path):
    # The healthy run's zero-variance share is 0.25 on every step: a recipe asking for 0.2 gets a finding.
    settings = DoctorSettings.model_validate({"no-signal": {"share": 0.2}}).as_record()
    assert names(write_run(tmp_path, doctor=settings)) == ["no-signal"]


def test_cli_json_and_exit_codes(tmp_path, capsys):
    flagged = write_run(tmp_path / "a", planned=40)
    capsys.readouterr()  # verl's file logger announces itself on stdout
    assert doctor_main([str(flagged), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in report[str(flagged)]["findings"]] == ["no-progress"]
    assert doctor_main([str(flagged)]) == 1
    assert "no-progress  step 30: the run exited 0 at training step 30 of 40 planned; try first:" in (
        capsys.readouterr().out
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert doctor_main([str(empty), str(flagged)]) == 2
    assert f"{empty / 'run.json'}: missing" in capsys.readouterr().err
    (empty / "run.json").write_text("{not json")
    assert doctor_main([str(empty)]) == 2
    assert f"{empty / 'run.json'}: unreadable" in capsys.readouterr().err


def test_live_doctor_announces_a_finding_once_and_keeps_it_in_run_json(tmp_path):
    run_dir = write_run(tmp_path, groups=([0.0] * 4,) * 4)
    doctor = LiveDoctor(run_dir, DoctorSettings(), interval_s=0)
    (first,) = doctor.poll(0.0)
    assert first.name == "no-signal" and alarm_line(first).startswith(f"\n{ALARM_MARK}: no-signal  steps 1-5")
    assert doctor.poll(1.0) == []
    section = records.read_run_json(run_dir)["doctor"]
    assert [f["name"] for f in section["findings"]] == ["no-signal"]
    assert section["zero_std_group_share"]["1"] == 1.0 and section["settings"]["no-signal"]["share"] == 0.9
    # A relaunch of the run does not announce what run.json already holds.
    assert LiveDoctor(run_dir, DoctorSettings(), interval_s=0).poll(0.0) == []


def test_recipe_doctor_block_is_validated(tmp_path):
    def recipe(block: str) -> Path:
        path = tmp_path / f"r{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(f"base: {RECIPES_DIR / 'debug.yaml'}\nquestion: q\ndoctor: {block}\n")
        return path

    loaded = load_recipe(str(recipe("{stop_on: [non-finite], no-signal: {share: 0.95}}")))
    assert loaded.doctor.stop_on == ["non-finite"] and loaded.doctor.no_signal.share == 0.95
    assert loaded.doctor.truncation.clip_ratio == 0.2  # untouched defaults stay
    with pytest.raises(RecipeError, match="stop_on"):
        load_recipe(str(recipe("{stop_on: [nan-loss]}")))
    with pytest.raises(RecipeError, match="no-signal.shares"):
        load_recipe(str(recipe("{no-signal: {shares: 0.95}}")))
    with pytest.raises(RecipeError, match="share"):
        load_recipe(str(recipe("{no-signal: {share: 2}}")))
