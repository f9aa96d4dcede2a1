"""`make smoke` end to end: the real verl trainer on CPU through the launch path, then a relaunch that must
resume from the checkpoint and lose nothing (metrics, wandb run), the report, the run doctor's verdict on a
random model, and the checkpoint conversion."""

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from evaluation.checkpoint import resolve_model
from launch.recipe import REPO_ROOT
from reporting.wandb_offline import read_offline_history, read_offline_run

RUN_ID = "countdown-3b__smoke__s1"
SMOKE_TIMEOUT_S = 600  # one invocation takes 90-150 s on 2 busy cores; the bound turns a hang into a failure
TRAIN_KEYS = ("critic/score/mean", "response_length/mean", "actor/pg_loss")


def _ray_processes() -> set[int]:
    found = set()
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any("/tmp/zl-" in part for part in proc.info["cmdline"] or []):
                found.add(proc.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def _smoke(out: Path, steps: int) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "launch", "smoke", "--steps", str(steps), "--out", str(out)]
    try:
        return subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=SMOKE_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        tail = (error.stdout or b"")[-3000:]
        pytest.fail(f"`make smoke --steps {steps}` hung for {SMOKE_TIMEOUT_S} s; last output:\n{tail}")


def _steps(path: Path) -> dict[int, dict]:
    return {row["step"]: row["data"] for row in map(json.loads, path.read_text().splitlines())}


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    ray_before = _ray_processes()
    first = _smoke(out, steps=2)
    first_metrics = (
        _steps(out / "results" / "countdown-3b" / "runs" / RUN_ID / "metrics.jsonl")
        if first.returncode == 0
        else {}
    )
    # Read now: the second invocation prunes to trainer.max_actor_ckpt_to_keep (1) on its way out.
    saved_by_first = sorted(
        p.name for p in (out / "checkpoints" / "countdown-3b" / RUN_ID).glob("global_step_*")
    )
    second = _smoke(out, steps=3) if first.returncode == 0 else None
    return out, first, first_metrics, second, _ray_processes() - ray_before, saved_by_first


def test_smoke_runs_the_real_trainer_and_says_where_the_results_are(smoke_runs):
    out, first, first_metrics, _, _, saved_by_first = smoke_runs
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    run_dir = out / "results" / "countdown-3b" / "runs" / RUN_ID
    assert f"metrics: {run_dir / 'metrics.jsonl'}" in first.stdout
    assert f"report:  {out / 'results' / 'countdown-3b' / 'summary.md'}" in first.stdout
    assert "val-core/countdown/acc/mean@1" in first_metrics[0]  # validation before training
    for step in (1, 2):
        assert all(key in first_metrics[step] for key in TRAIN_KEYS), sorted(first_metrics[step])
    assert saved_by_first == ["global_step_2"]  # save_freq 1, keep 1


def test_a_second_invocation_resumes_from_the_checkpoint_and_loses_nothing(smoke_runs):
    out, _, first_metrics, second, _, _ = smoke_runs
    assert second is not None and second.returncode == 0, (
        (second.stdout[-4000:] + second.stderr[-2000:]) if second else ""
    )
    run_dir = out / "results" / "countdown-3b" / "runs" / RUN_ID
    log = (run_dir / "stdout.attempt-2.log").read_text()
    assert "global_step_2" in log and ("Resuming from" in log or "Load from checkpoint folder" in log)
    attempt_2 = _steps(run_dir / "metrics.attempt-2.jsonl")
    assert not any(key in attempt_2.get(step, {}) for step in (1, 2) for key in TRAIN_KEYS)  # not restarted
    merged = _steps(run_dir / "metrics.jsonl")
    assert all(key in merged[step] for step in (1, 2, 3) for key in TRAIN_KEYS)
    assert merged[1]["actor/pg_loss"] == first_metrics[1]["actor/pg_loss"]  # attempt 1's rows survived
    record = json.loads((run_dir / "run.json").read_text())
    assert [a["status"] for a in record["attempts"]] == ["finished", "finished"] and record[
        "status"
    ] == "finished"
    assert record["hardware"]["device"] == "cpu" and record["variant"] == "smoke"


def test_wandb_continues_the_same_offline_run_and_reads_back(smoke_runs):
    out, *_ = smoke_runs
    run_dir = out / "results" / "countdown-3b" / "runs" / RUN_ID
    wandb_id = json.loads((run_dir / "run.json").read_text())["wandb"]["run_id"]
    files = sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 2 and all(path.name == f"run-{wandb_id}.wandb" for path in files)
    first, second = read_offline_history(run_dir / "wandb")
    assert {1, 2} <= set(first) and 3 in second and 1 not in second
    run = read_offline_run(files[0])
    assert run.run_id == wandb_id and run.name == RUN_ID and run.project == "countdown-3b"
    assert run.config["trainer"]["experiment_name"] == RUN_ID


def test_no_ray_process_outlives_the_runs(smoke_runs):
    *_, leftovers, _ = smoke_runs
    assert leftovers == set()


def test_the_report_is_built_from_the_smoke_records(smoke_runs):
    out, *_ = smoke_runs
    recipe_dir = out / "results" / "countdown-3b"
    summary = (recipe_dir / "summary.md").read_text()
    assert "smoke" in summary and "pilot" in summary.lower()
    assert "make smoke" in summary and "VARIANT=smoke" not in summary
    assert list((recipe_dir / "curves").glob("*.png"))
    assert (out / "results" / "README.md").is_file()


def test_the_doctor_reports_the_random_models_run_as_no_signal(smoke_runs):
    # The random model scores 0 on every sample: every GRPO group has zero reward variance.
    out, first, _, second, _, _ = smoke_runs
    run_dir = out / "results" / "countdown-3b" / "runs" / RUN_ID
    assert (
        "!!! ZeroLab doctor: no-signal  steps 1-2: share of groups with zero reward variance 1, 1"
        in first.stdout
    )
    assert "!!! ZeroLab doctor: no-signal" not in second.stdout  # announced once, not again on the relaunch
    section = json.loads((run_dir / "run.json").read_text())["doctor"]
    assert "no-signal" in [finding["name"] for finding in section["findings"]]
    assert section["zero_std_group_share"] == {"1": 1.0, "2": 1.0, "3": 1.0}  # from the rollout dumps
    doctor = subprocess.run(
        [sys.executable, "-m", "launch", "doctor", str(run_dir)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert doctor.returncode == 1 and "  no-signal  steps 1-3:" in doctor.stdout, (
        doctor.stdout + doctor.stderr
    )
    summary = (out / "results" / "countdown-3b" / "summary.md").read_text()
    assert "finished; doctor: no-signal @ 1-3" in summary


def test_the_trainers_checkpoint_converts_to_a_hugging_face_model(smoke_runs):
    out, *_ = smoke_runs
    actor = out / "checkpoints" / "countdown-3b" / RUN_ID / "global_step_3" / "actor"
    resolved = resolve_model(str(actor))
    assert resolved.checkpoint_step == 3
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(resolved.path).num_parameters() > 0
