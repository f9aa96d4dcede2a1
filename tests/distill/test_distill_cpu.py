"""The distillation chain on CPU, for real: the committed tiny base as teacher, a tiny fresh student,
verl 0.9.1's own SFT trainer under torchrun, and the student evaluated from its checkpoint.

    python -m pytest tests/distill/test_distill_cpu.py -q            (the end-to-end test is marked slow)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from data_prep.templates import PASS_THROUGH_CHAT_TEMPLATE
from distill.cli import main
from evaluation.generate import Decoding
from evaluation.sample import sample_cpu

from .conftest import REPO, TEACHER

BUDGET = 224  # recipes/countdown-mini.yaml's response budget


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))


def test_cpu_sampling_is_seeded_and_writes_what_launch_score_reads(mini_data, tmp_path):
    rows = tmp_path / "rows.parquet"
    pq.write_table(pq.read_table(mini_data / "train.parquet").slice(0, 2), rows)
    decoding = Decoding(n=3, temperature=1.0, top_p=1.0, max_tokens=BUDGET)
    first = pq.read_table(
        sample_cpu(str(TEACHER), rows, tmp_path / "a.parquet", decoding, seed=1)
    ).to_pylist()
    again = pq.read_table(
        sample_cpu(str(TEACHER), rows, tmp_path / "b.parquet", decoding, seed=1)
    ).to_pylist()
    assert first == again
    assert [len(row["responses"]) for row in first] == [3, 3]
    assert all(
        "<eos>" not in response for row in first for response in row["responses"]
    )  # special tokens skipped
    assert first[0]["prompt"] == pq.read_table(rows).to_pylist()[0]["prompt"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sample_reject_write_sft_eval_end_to_end(mini_data, tiny_student, tmp_path, capsys):
    build, ckpt, evaluation = tmp_path / "build", tmp_path / "ckpt", tmp_path / "eval"
    data_args = [str(mini_data / "train.parquet"), "--teacher", str(TEACHER), "--out", str(build)]
    data_args += ["--k", "8", "--temperature", "1.0", "--top-p", "1.0", "--max-tokens", str(BUDGET)]
    data_args += ["--max-prompts", "8", "--max-per-prompt", "2", "--device", "cpu"]
    assert main(["data", *data_args]) == 0
    meta = json.loads((build / "meta.json").read_text())
    responses = meta["counts"]["responses"]
    assert responses["sampled"] == 64 and 0 < responses["kept"] <= 2 * meta["counts"]["prompts"]["kept"]
    assert meta["rows"]["train"] == responses["kept"] == pq.read_table(build / "train.parquet").num_rows
    assert main(["data", *data_args[:-2], "--choice", "random", "--device", "cpu"]) == 2, (
        "other arguments: refused"
    )

    sft_args = ["sft", str(build), "--student", str(tiny_student), "--out", str(ckpt), "--device", "cpu"]
    sft_args += ["data.train_batch_size=2", "data.micro_batch_size_per_gpu=1", "data.use_dynamic_bsz=false"]
    sft_args += ["data.max_length=256", "trainer.total_epochs=2", "optim.lr=1e-3"]
    assert main(sft_args) == 0
    steps = [json.loads(line) for line in (ckpt / "metrics.jsonl").read_text().splitlines()]
    assert len(steps) == 2 * (responses["kept"] // 2) and all("train/loss" in s["data"] for s in steps)
    (final,) = [p for p in ckpt.iterdir() if p.name.startswith("global_step_")]
    assert (final / "huggingface" / "model.safetensors").is_file()

    eval_args = ["eval", str(final), "--data", str(mini_data / "test.parquet"), "--out", str(evaluation)]
    assert (
        main([*eval_args, "--n", "1", "--temperature", "1.0", "--max-tokens", "32", "--device", "cpu"]) == 0
    )
    result = json.loads((evaluation / "countdown.json").read_text())
    assert result["checkpoint_step"] == int(final.name.rpartition("_")[2])
    assert result["n"] == 1 and 0 <= result["greedy_acc"] <= 1 and result["num_prompts"] == 256


def test_gpu_sampling_sends_launch_evals_keys_plus_the_seed(mini_data, tmp_path, monkeypatch):
    """No GPU here: the vLLM path is checked up to the verl command it would run, composed against verl."""
    import evaluation.sample as sample_module
    from launch import verl_config

    sent = {}

    def fake_generate(overrides, log_path, env=None):
        sent.update(overrides)
        return tmp_path / "out.parquet"

    monkeypatch.setattr(sample_module, "require_gpu", lambda: 2)
    monkeypatch.setattr(sample_module, "generate", fake_generate)
    decoding = Decoding(n=4, temperature=0.6, top_p=0.95, max_tokens=BUDGET)
    sample_module.sample(
        str(TEACHER),
        mini_data / "train.parquet",
        decoding,
        tmp_path / "g.parquet",
        device="gpu",
        seed=7,
        max_prompts=3,
    )
    assert sent["actor_rollout_ref.rollout.seed"] == 7 and sent["trainer.n_gpus_per_node"] == 2
    assert (
        sent["actor_rollout_ref.rollout.load_format"] == "auto" and sent["actor_rollout_ref.rollout.n"] == 4
    )
    assert pq.read_table(sent["data.train_files"][0]).num_rows == 3
    template = sent["+actor_rollout_ref.rollout.engine_kwargs.vllm.chat_template"]
    assert Path(template).read_text() == PASS_THROUGH_CHAT_TEMPLATE
    verl_config.compose(sent)  # every key is one main_generation_server's ppo_trainer config knows


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_recipe_run_records_the_student_and_the_report_sets_it_beside_rl(
    mini_data, tiny_student, tmp_path, capsys
):
    import shutil

    import yaml

    from reporting.report import build_report

    recipe = tmp_path / "mini-distill.yaml"
    section = {"teacher": str(TEACHER), "max_prompts": 4, "k": 4, "temperature": 1.0, "top_p": 1.0}
    section |= {"max_tokens": BUDGET, "strict_format": True, "dedup": True, "max_per_prompt": 2}
    section |= {"choice": "shortest", "eval": {"n": 1, "temperature": 1.0, "top_p": 1.0, "max_tokens": 32}}
    section["sft"] = {"data.train_batch_size": 2, "data.micro_batch_size_per_gpu": 1}
    section["sft"] |= {"data.use_dynamic_bsz": False, "data.max_length": 256, "trainer.total_epochs": 1}
    body = {"base": str(REPO / "recipes" / "base.yaml"), "question": "q", "model": str(tiny_student)}
    body |= {"task": "countdown-mini", "template": "mini", "profile": "cpu", "distill": section}
    recipe.write_text(yaml.safe_dump(body | {"sweep": {"variants": {"tiny": {}}, "seeds": [1]}}))
    results = tmp_path / "results"
    dirs = ["--data-dir", str(mini_data.parents[1]), "--results-dir", str(results)]
    dirs += ["--checkpoints-dir", str(tmp_path / "ckpt"), "--device", "cpu"]
    assert main(["run", str(recipe), *dirs]) == 0
    run_dir = results / "mini-distill" / "runs" / "mini-distill__tiny__s1"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["kind"] == "distill" and record["status"] == "finished"
    assert set(record["stage_seconds"]) == {"data", "sft", "eval"}
    assert (run_dir / "distill.json").is_file() and (run_dir / "metrics.jsonl").is_file()
    result = json.loads((run_dir / "eval" / "countdown-mini.json").read_text())  # named by the task
    capsys.readouterr()
    assert main(["run", str(recipe), *dirs]) == 2
    assert "already finished" in capsys.readouterr().err

    # An RL run of the same student model (the committed no_prior record, pointed at the tiny student).
    rl_dir = results / "countdown-mini" / "runs" / "countdown-mini__no_prior__s1"
    source = REPO / "results" / "countdown-mini" / "runs" / rl_dir.name
    rl_dir.mkdir(parents=True)
    shutil.copy(source / "metrics.jsonl", rl_dir / "metrics.jsonl")
    rl_record = json.loads((source / "run.json").read_text()) | {"model": str(tiny_student)}
    (rl_dir / "run.json").write_text(json.dumps(rl_record))
    summary = build_report("mini-distill", results).summary.read_text()
    distilled = (
        f"| `{tiny_student}` | distilled from {TEACHER} | 1 | {100 * result['greedy_acc']:.1f} (greedy) |"
    )
    assert distilled in summary
    assert (
        f"| `{tiny_student}` | RL: countdown-mini no_prior | 1 | 6.6 (greedy, final step) | 9.8 |" in summary
    )
