"""The offline reader against a real wandb 0.31 offline run, and --from-wandb's failure without a key."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reporting.cli import report_main as main
from reporting.runs import load_recipe_runs
from reporting.wandb_offline import read_offline_history, read_offline_run
from reporting.wandb_remote import run_from_history

BLOB = "".join(
    chr(ord("a") + i % 26) for i in range(70_000)
)  # > two 32 KiB blocks: FIRST, MIDDLE, LAST chunks

WRITER = textwrap.dedent(
    """
    import sys, wandb
    config = {"lr": 1e-06, "model": {"layers": 2}}
    run = wandb.init(project="zerolab-test", name="toy__base__s1", config=config)
    for step in range(1, 301):
        metrics = {"critic/score/mean": step / 1000, "actor/entropy": 1 / step}
        run.log({**metrics, "val-core/countdown/acc/mean@1": 0.5}, step=step)
    run.log({"critic/score/mean": float("nan"), "blob": sys.argv[1]}, step=301)
    run.summary["note"] = "done"
    run.finish()
    """
)


@pytest.fixture(scope="module")
def offline_file(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wandb")
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(root), "WANDB_SILENT": "true"}
    env.pop("WANDB_API_KEY", None)
    subprocess.run([sys.executable, "-c", WRITER, BLOB], env=env, check=True, timeout=120, cwd=root)
    (path,) = root.glob("wandb/offline-run-*/run-*.wandb")
    return path


def test_reads_back_exactly_what_was_logged(offline_file):
    assert offline_file.read_bytes()[:4] == b":W&B"
    run = read_offline_run(offline_file)
    assert run.complete and run.name == "toy__base__s1" and run.project == "zerolab-test"
    assert run.config == {"lr": 1e-06, "model": {"layers": 2}}
    assert sorted(run.history) == list(range(1, 302))
    assert run.history[7] == {
        "critic/score/mean": 0.007,
        "actor/entropy": 1 / 7,
        "val-core/countdown/acc/mean@1": 0.5,
    }
    assert run.history[301]["blob"] == BLOB  # a record spanning three blocks is reassembled
    assert run.history[301]["critic/score/mean"] != run.history[301]["critic/score/mean"]  # NaN survives
    assert run.summary["note"] == "done" and run.summary["actor/entropy"] == 1 / 300


def test_torn_tail_keeps_whole_records(offline_file, tmp_path):
    torn = tmp_path / "run-torn.wandb"
    data = offline_file.read_bytes()
    torn.write_bytes(data[: len(data) - 40])
    run = read_offline_run(torn)
    assert not run.complete
    assert 300 in run.history  # records before the damaged one are all there


def test_rejects_files_that_are_not_wandb_runs(tmp_path):
    bogus = tmp_path / "run-x.wandb"
    bogus.write_bytes(b"hello world, not a wandb file")
    with pytest.raises(ValueError, match=":W&B header"):
        read_offline_run(bogus)


def test_offline_run_feeds_a_record_without_metrics_files(offline_file, tmp_path):
    run_dir = tmp_path / "results" / "toy" / "runs" / "toy__base__s1"
    run_dir.mkdir(parents=True)
    shutil.copytree(offline_file.parent, run_dir / "wandb" / offline_file.parent.name)
    meta = {
        "run_id": "toy__base__s1",
        "status": "finished",
        "wandb": {"mode": "offline", "offline_dir": "wandb"},
    }
    (run_dir / "run.json").write_text(json.dumps(meta))
    (run,) = load_recipe_runs(tmp_path / "results", "toy")
    assert run.metrics[7]["critic/score/mean"] == 0.007
    assert "blob" not in run.metrics[301]  # text is not a metric
    assert run.status == "diverged"  # the NaN score at step 301
    assert "metrics read from the wandb offline run" in run.notes
    assert len(read_offline_history(run_dir / "wandb")) == 1


def test_from_wandb_fails_fast_and_clearly_without_a_key(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_IDENTITY_TOKEN_FILE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    started = time.monotonic()
    code = main(["toy", "--results-dir", str(tmp_path / "results"), "--from-wandb", "someone/project"])
    assert code == 2 and time.monotonic() - started < 5
    assert "set WANDB_API_KEY or run `wandb login`" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()
    assert main(["toy", "--results-dir", str(tmp_path / "results"), "--from-wandb", "no-slash"]) == 2
    assert "ENTITY/PROJECT" in capsys.readouterr().err


def test_run_from_history_maps_state_and_steps():
    rows = [{"_step": 1, "_runtime": 3.0, "critic/score/mean": 0.1}, {"_step": 2, "critic/score/mean": 0.2}]
    run = run_from_history("toy", "toy__no_kl__lr1e-06__s3", "crashed", "https://wandb.ai/x", "abc", rows)
    assert (run.group, run.seed, run.status) == ("no_kl__lr1e-06", 3, "failed")
    assert run.metrics == {1: {"critic/score/mean": 0.1}, 2: {"critic/score/mean": 0.2}}
