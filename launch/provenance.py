"""One provenance record for every number ZeroLab writes: the code (git commit, dirty flag and, when dirty, the
changed files and a hash of the diff), the package versions and the hardware behind it, under the same keys
in run records (run.json) and eval outputs.

    python -m launch train countdown-3b      (tests/launch/test_launchers.py reads it back from run.json)
"""

from __future__ import annotations

import hashlib
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

# The packages whose versions change results: this kit, the trainer, the rollout engine and what they sit on.
VERSIONED_PACKAGES = ("zerolab", "verl", "vllm", "torch", "transformers", "ray")


# What runs write into the checkout themselves: new files there say nothing about the code that ran.
RUN_OUTPUT_DIRS = ("results/",)


def _run_git(root: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, check=True).stdout


def dirty_lines(root: Path) -> list[str]:
    """`git status --porcelain` lines that make the checkout dirty: a tracked file changed, or an untracked
    file outside results/ (a run's own new records would otherwise mark every later run of a sweep dirty).
    Raises OSError / CalledProcessError outside a git checkout."""
    status = _run_git(root, "status", "--porcelain", "--untracked-files=all").decode(errors="replace")
    changes = [line for line in status.splitlines() if line.strip()]
    return [line for line in changes if not (line.startswith("?? ") and line[3:].startswith(RUN_OUTPUT_DIRS))]


def git_state(root: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout at `root`; (None, None) outside a git checkout (a Ray job's copy)."""
    try:
        commit = _run_git(root, "rev-parse", "HEAD").decode().strip()
        return commit, bool(dirty_lines(root))
    except (OSError, subprocess.CalledProcessError):
        return None, None


def git_changes(root: Path) -> dict[str, Any] | None:
    """What made a dirty checkout dirty, so a reader can tell a harmless difference from a code change:
    {"files": porcelain lines ("M launch/mini.py", "?? notes.py"), "diff_sha256": of `git diff --binary HEAD`
    (the tracked changes, staged or not; an untracked file is named, not hashed)}. None when clean or outside
    a git checkout."""
    try:
        files = dirty_lines(root)
        if not files:
            return None
        diff = _run_git(root, "diff", "--binary", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"files": [line.strip() for line in files], "diff_sha256": hashlib.sha256(diff).hexdigest()}


def versions() -> dict[str, str | None]:
    found = {}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def hardware(device: str, gpu_count: int) -> dict[str, Any]:
    model = None
    if device == "cuda":
        try:
            listing = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True
            )
            model = listing.stdout.splitlines()[0].strip() if listing.stdout.strip() else None
        except OSError:
            pass
    return {"device": device, "gpu_model": model, "gpu_count": gpu_count if device == "cuda" else 0}


def provenance(root: Path, device: str, gpu_count: int) -> dict[str, Any]:
    """{"git_commit", "git_dirty", "git_changes", "versions", "hardware"}: the keys run.json and eval outputs
    share."""
    commit, dirty = git_state(root)
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "git_changes": git_changes(root) if dirty else None,
        "versions": versions(),
        "hardware": hardware(device, gpu_count),
    }
