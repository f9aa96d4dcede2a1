"""One provenance record: run.json and eval outputs carry the same keys, which the report reads."""

import subprocess
from dataclasses import asdict

from evaluation import evaluate
from evaluation.generate import Decoding, Hardware
from launch.provenance import git_changes, git_state, provenance
from launch.recipe import REPO_ROOT

KEYS = {"git_commit", "git_dirty", "git_changes", "versions", "hardware"}


def test_provenance_names_the_code_the_packages_and_the_hardware():
    record = provenance(REPO_ROOT, "cpu", 0)
    assert set(record) == KEYS
    assert record["git_commit"] and isinstance(record["git_dirty"], bool)
    assert (record["git_changes"] is None) is (not record["git_dirty"])
    assert record["versions"]["verl"] == "0.9.1" and "zerolab" in record["versions"]
    assert record["hardware"] == {"device": "cpu", "gpu_model": None, "gpu_count": 0}


def test_new_run_records_do_not_make_the_checkout_dirty_but_code_does(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "train.py").write_text("steps = 1\n")
    git("add", "train.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    (tmp_path / "results" / "r" / "runs" / "r__a__s1").mkdir(parents=True)
    (tmp_path / "results" / "r" / "runs" / "r__a__s1" / "run.json").write_text("{}")
    assert git_state(tmp_path)[1] is False and git_changes(tmp_path) is None
    (tmp_path / "helper.py").write_text("")  # new code outside results/
    assert git_state(tmp_path)[1] is True
    assert git_changes(tmp_path)["files"] == ["?? helper.py"]
    (tmp_path / "helper.py").unlink()
    (tmp_path / "train.py").write_text("steps = 2\n")
    assert git_state(tmp_path)[1] is True
    changed = git_changes(tmp_path)
    assert changed["files"] == ["M train.py"] and len(changed["diff_sha256"]) == 64
    (tmp_path / "train.py").write_text("steps = 3\n")  # another change to the same file: another hash
    assert git_changes(tmp_path)["diff_sha256"] != changed["diff_sha256"]
    git("add", "train.py")  # staged or not, the same change gives the same hash
    (tmp_path / "train.py").write_text("steps = 2\n")
    assert git_changes(tmp_path) == changed | {"files": ["MM train.py"]}


def test_eval_outputs_carry_the_run_records_provenance_keys(tmp_path, monkeypatch):
    """run_eval with generation stubbed out: what it writes beside the metrics is the same record."""
    monkeypatch.setattr(evaluate, "require_device", lambda hardware: 1)
    monkeypatch.setattr(
        evaluate,
        "resolve_model",
        lambda model, merge_dir: type(
            "R", (), {"path": model, "checkpoint_step": None, "checkpoint_dir": None}
        )(),
    )
    monkeypatch.setattr(
        evaluate, "generate", lambda overrides, log, echo=None, env=None: tmp_path / "g.parquet"
    )
    monkeypatch.setattr(
        evaluate, "score_generations", lambda generations, greedy: ({"n": 1, "mean@n": 0.5}, [])
    )
    split = evaluate.EvalSplit(tmp_path / "test.parquet", "countdown", "base", 1)
    result = evaluate.run_eval(
        "m", split, Decoding(1, 0.6, 0.95, 8), tmp_path, greedy=False, hardware=Hardware(1)
    )
    assert set(result) >= KEYS and not {"commit", "dirty", "gpus"} & set(result)
    assert result["hardware"]["device"] == "cuda" and result["generation_hardware"] == asdict(Hardware(1))
