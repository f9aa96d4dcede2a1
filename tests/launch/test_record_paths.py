"""No machine paths in records: the rewriting rules, a real attempt's records, and every committed file."""

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from launch.recipe import REPO_ROOT
from launch.record_paths import MACHINE_PATH, local_path, portable, portable_text


def test_the_checkout_becomes_relative_and_other_machine_prefixes_are_named(tmp_path):
    root = tmp_path / "zerolab"
    assert portable_text(f"{root}/.venv/bin/python", root) == ".venv/bin/python"
    assert (
        portable_text(f"data.train_files='{root}/data/x.parquet'", root)
        == "data.train_files='data/x.parquet'"
    )
    assert portable_text(str(root), root) == "."
    assert portable_text(f"{root}2/x", root).endswith("/zerolab2/x")  # a sibling dir is not the checkout
    assert portable_text(f"{tempfile.gettempdir()}/zl-abc", root) == "$TMPDIR/zl-abc"
    assert portable_text(f"{Path.home()}/.cache/huggingface", root) == "~/.cache/huggingface"
    assert portable_text("results/countdown-mini/base/search", root) == "results/countdown-mini/base/search"
    record = {"command": [sys.executable, "-m", "verl"], "wandb": {"offline_dir": None, "n": 3}}
    assert portable(record, root) == {
        "command": ["python", "-m", "verl"],
        "wandb": {"offline_dir": None, "n": 3},
    }


def test_a_recorded_path_reads_back_on_this_machine(tmp_path):
    root = tmp_path / "zerolab"
    for path in (
        Path(tempfile.gettempdir()) / "zl-abc",
        Path.home() / ".cache" / "hf",
        Path("checkpoints/r"),
    ):
        assert local_path(portable_text(str(path), root)) == path


def test_machine_path_pattern_finds_absolute_paths_not_relative_ones():
    for text in ("/work/main/x", "path: /tmp/ray/x", "'/home/u/z'", "/root/.cache", "=/usr/bin/python3"):
        assert MACHINE_PATH.search(text), text
    for text in (
        "results/countdown-mini/runs",
        "data/countdown-mini/mini",
        "$TMPDIR/zl-1",
        "~/.cache",
        "</think>",
    ):
        assert not MACHINE_PATH.search(text), text


def _tracked_results() -> list[str]:
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "results"], cwd=REPO_ROOT, capture_output=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return []
    return [name for name in listing.stdout.decode().split("\0") if name]


def test_no_committed_file_under_results_holds_a_machine_path():
    tracked = _tracked_results()
    if not tracked:
        pytest.skip("not a git checkout: which files are committed is unknown")
    found = []
    for name in tracked:
        data = (REPO_ROOT / name).read_bytes()
        if b"\0" in data[:8192]:  # weights, pictures
            continue
        for number, line in enumerate(data.decode(errors="replace").splitlines(), 1):
            if MACHINE_PATH.search(line):
                found.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not found, "machine paths in committed files:\n" + "\n".join(found[:20])
