"""One provenance record for every number ZeroLab writes: the code (git commit and dirty flag), the package
versions and the hardware behind it, under the same keys in run records (run.json) and eval outputs.

    python -m launch train countdown-3b      (tests/launch/test_launchers.py reads it back from run.json)
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

# The packages whose versions change results: this kit, the trainer, the rollout engine and what they sit on.
VERSIONED_PACKAGES = ("zerolab", "verl", "vllm", "torch", "transformers", "ray")


# What runs write into the checkout themselves: new files there say nothing about the code that ran.
RUN_OUTPUT_DIRS = ("results/",)


def git_state(root: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout at `root`; (None, None) outside a git checkout (a Ray job's copy).

    Dirty: a tracked file changed, or an untracked file outside results/ (a run's own new records would
    otherwise mark every later run of a sweep dirty)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None, None
    changes = [line for line in status.stdout.splitlines() if line.strip()]
    dirty = any(not (line.startswith("?? ") and line[3:].startswith(RUN_OUTPUT_DIRS)) for line in changes)
    return commit.stdout.strip(), dirty


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
    """{"git_commit", "git_dirty", "versions", "hardware"}: the keys run.json and eval outputs share."""
    commit, dirty = git_state(root)
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "versions": versions(),
        "hardware": hardware(device, gpu_count),
    }
