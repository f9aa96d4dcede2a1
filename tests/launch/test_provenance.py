"""One provenance record: run.json and eval outputs carry the same keys, which the report reads."""

from dataclasses import asdict

from evaluation import evaluate
from evaluation.generate import Decoding, Hardware
from launch.provenance import provenance
from launch.recipe import REPO_ROOT

KEYS = {"git_commit", "git_dirty", "versions", "hardware"}


def test_provenance_names_the_code_the_packages_and_the_hardware():
    record = provenance(REPO_ROOT, "cpu", 0)
    assert set(record) == KEYS
    assert record["git_commit"] and isinstance(record["git_dirty"], bool)
    assert record["versions"]["verl"] == "0.9.1" and "zerolab" in record["versions"]
    assert record["hardware"] == {"device": "cpu", "gpu_model": None, "gpu_count": 0}


def test_eval_outputs_carry_the_run_records_provenance_keys(tmp_path, monkeypatch):
    """run_eval with generation stubbed out: what it writes beside the metrics is the same record."""
    monkeypatch.setattr(evaluate, "require_gpu", lambda: 1)
    monkeypatch.setattr(
        evaluate,
        "resolve_model",
        lambda model, merge_dir: type(
            "R", (), {"path": model, "checkpoint_step": None, "checkpoint_dir": None}
        )(),
    )
    monkeypatch.setattr(evaluate, "generate", lambda overrides, log, echo=None: tmp_path / "g.parquet")
    monkeypatch.setattr(
        evaluate, "score_generations", lambda generations, greedy: ({"n": 1, "mean@n": 0.5}, [])
    )
    split = evaluate.EvalSplit(tmp_path / "test.parquet", "countdown", "base", 1)
    result = evaluate.run_eval(
        "m", split, Decoding(1, 0.6, 0.95, 8), tmp_path, greedy=False, hardware=Hardware(1)
    )
    assert set(result) >= KEYS and not {"commit", "dirty", "gpus"} & set(result)
    assert result["hardware"]["device"] == "cuda" and result["generation_hardware"] == asdict(Hardware(1))
