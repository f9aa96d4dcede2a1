"""A multi-stage recipe end to end on CPU, for real: an RL stage (verl's GRPO trainer, one step, the CPU backend),
then an SFT stage that samples the RL stage's converted checkpoint, keeps what the reward accepts and fine-tunes a
fresh copy of the base with verl's SFT trainer (distill/stage.py), then an SFT stage on a file that trains the
second stage's model; a relaunch that runs nothing, a `--rerun-from` that runs the last two stages again, and
the report of the records.

    python -m pytest tests/distill/test_stage_cpu.py -q            (marked slow: several minutes)
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from launch.__main__ import run_command
from launch.recipe import RECIPES_DIR
from launch.record_paths import portable_text
from reporting.report import build_report

from .conftest import REPO, TEACHER

RL_STAGE = {
    "name": "rl",
    "kind": "rl",
    "overrides": {
        "data.train_batch_size": 4,
        "actor_rollout_ref.actor.ppo_mini_batch_size": 4,
        "actor_rollout_ref.rollout.n": 2,
        "data.max_response_length": 32,
        "trainer.total_training_steps": 1,
        "trainer.val_before_train": False,
        "trainer.test_freq": 1,
        "trainer.save_freq": 1,
    },
}
SFT_STAGE = {
    "name": "distil",
    "kind": "sft",
    "from": "base",
    "teacher_stage": "rl",
    "max_prompts": 4,
    "k": 4,
    "temperature": 1.0,
    "top_p": 1.0,
    "max_tokens": 224,
    "strict_format": True,
    "dedup": True,
    "max_per_prompt": 2,
    "choice": "shortest",
    "sft": {
        "data.train_batch_size": 2,
        "data.micro_batch_size_per_gpu": 1,
        "data.use_dynamic_bsz": False,
        "data.max_length": 256,
        "trainer.total_epochs": 1,
    },
    "eval": {"n": 1, "temperature": 1.0, "top_p": 1.0, "max_tokens": 32},
}


# A third stage fine-tunes the second stage's model (a link to the weights its SFT saved) on a file: the traces
# stage 2 kept, whose path the pipeline's layout fixes (data/stages/<recipe>/<run-id>/<nn>-<name>/).
FILE_STAGE = {"name": "polish", "kind": "sft", "sft": SFT_STAGE["sft"], "eval": SFT_STAGE["eval"]}


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_two_stage_pipeline_runs_then_resumes_and_reruns_on_cpu(mini_data, tmp_path, capsys):
    recipe = tmp_path / "tiny-r1.yaml"
    body = {"base": str(RECIPES_DIR / "countdown-mini.yaml"), "question": "q", "model": str(TEACHER)}
    traces = mini_data.parents[1] / "stages" / "tiny-r1" / "tiny-r1__tiny__s1" / "02-distil" / "train.parquet"
    stages = [RL_STAGE, SFT_STAGE, {**FILE_STAGE, "data": str(traces)}]
    body |= {"stages": stages, "sweep": {"variants": {"tiny": {}}, "seeds": [1]}}
    recipe.write_text(yaml.safe_dump(body, sort_keys=False))
    results, checkpoints = tmp_path / "results", tmp_path / "ckpt"
    args = [str(recipe), "--data-dir", str(mini_data.parents[1]), "--results-dir", str(results)]
    args += ["--checkpoints-dir", str(checkpoints), "--device", "cpu"]

    assert run_command("pipeline", args) == 0, capsys.readouterr().err[-3000:]
    run_dir = results / "tiny-r1" / "runs" / "tiny-r1__tiny__s1"
    state = json.loads((run_dir / "pipeline.json").read_text())
    assert state["status"] == "finished" and state["finished_stages"] == ["rl", "distil", "polish"]
    rl_record = json.loads((run_dir / "stages" / "01-rl" / "run.json").read_text())
    # run.json names paths inside the checkout relative to it (launch.record_paths)
    assert rl_record["status"] == "finished" and rl_record["model"] == portable_text(str(TEACHER), REPO)
    assert len(rl_record["attempts"]) == 1 and (run_dir / "stages" / "01-rl" / "metrics.jsonl").is_file()
    rl_model = checkpoints / "tiny-r1" / "tiny-r1__tiny__s1" / "01-rl" / "model"
    assert (rl_model / "config.json").is_file() and not rl_model.is_symlink()  # merged by verl's merger
    sft_dir = run_dir / "stages" / "02-distil"
    sft_record = json.loads((sft_dir / "run.json").read_text())
    assert sft_record["kind"] == "distill" and sft_record["status"] == "finished"
    assert sft_record["teacher"] == str(rl_model) and sft_record["student"] == str(TEACHER)
    assert json.loads((sft_dir / "distill.json").read_text())["counts"]["responses"]["sampled"] == 16
    assert (sft_dir / "eval" / "countdown-mini.json").is_file()
    sft_model = checkpoints / "tiny-r1" / "tiny-r1__tiny__s1" / "02-distil" / "model"
    assert sft_model.is_symlink() and (sft_model / "model.safetensors").is_file()
    assert state["stages"][1]["eval"]["num_prompts"] == 256
    polish = json.loads((run_dir / "stages" / "03-polish" / "run.json").read_text())
    assert polish["kind"] == "sft" and polish["status"] == "finished" and polish["data"] == str(traces)
    assert (
        polish["student"] == str(sft_model)
        and not (run_dir / "stages" / "03-polish" / "distill.json").exists()
    )
    assert (
        checkpoints / "tiny-r1" / "tiny-r1__tiny__s1" / "03-polish" / "model" / "model.safetensors"
    ).is_file()

    # A relaunch finds every stage finished: nothing runs again.
    capsys.readouterr()
    assert run_command("pipeline", args) == 0
    assert json.loads((run_dir / "pipeline.json").read_text())["stages"] == state["stages"]
    assert len(json.loads((run_dir / "stages" / "01-rl" / "run.json").read_text())["attempts"]) == 1

    # --rerun-from the second stage: it and the one after it run again, their old records kept aside.
    assert run_command("pipeline", [*args, "--rerun-from", "distil"]) == 0
    again = json.loads((run_dir / "pipeline.json").read_text())
    assert again["stages"][0] == state["stages"][0]
    assert again["stages"][1]["started_at"] >= state["stages"][1]["ended_at"]
    assert again["stages"][2]["started_at"] >= again["stages"][1]["ended_at"]
    names = [p.name.split(".replaced-")[0] for p in (run_dir / "stages").iterdir()]
    assert names.count("02-distil") == names.count("03-polish") == 2 and names.count("01-rl") == 1

    # The report sets the stages side by side, in order.
    summary = build_report("tiny-r1", results).summary.read_text()
    rows = [line for line in summary.splitlines() if line.startswith(("| 1.", "| 2.", "| 3."))]
    assert [row.split(" | ")[:4] for row in rows] == [
        ["| 1. rl", "rl", f"`{portable_text(str(TEACHER), REPO)}`", "finished"],
        ["| 2. distil", "sft", f"`{portable_text(str(TEACHER), REPO)}`", "finished"],
        ["| 3. polish", "sft", f"`{portable_text(str(sft_model), REPO)}`", "finished"],
    ]
    assert "16 (teacher)" in rows[1] and "8 (own rollouts)" in rows[0]
