"""The vLLM tier: collected only where vLLM is installed (.venv-vllm; `make test` runs it after the CPU tier,
`.venv-vllm/bin/python -m pytest tests/vllm_tier`). In the CPU environment there is nothing to collect here; in
.venv-vllm a missing test module would leave pytest with no tests, which fails `make test` (exit code 5)."""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path

import psutil

collect_ignore_glob = [] if importlib.util.find_spec("vllm") else ["test_*.py"]

SHM = Path("/dev/shm")


def shm_segments() -> set[str]:
    """Python shared-memory segments (`psm_*`): verl's weight sync sends vLLM the weights through them."""
    return {path.name for path in SHM.glob("psm_*")}


def _segments_in_use() -> set[str]:
    """Segments some live process still maps or holds open (another user's run, never ours to remove)."""
    used = set()
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            used |= {
                Path(m.path).name
                for m in proc.memory_maps(grouped=True)
                if m.path.startswith("/dev/shm/psm_")
            }
            used |= {Path(f.path).name for f in proc.open_files() if f.path.startswith("/dev/shm/psm_")}
    return used


def remove_stray_segments(before: set[str]) -> set[str]:
    """Removes the segments that appeared since `before` and that no live process uses; returns their names.

    verl 0.9.1's shared-memory weight transfer (the CPU platform has no CUDA IPC) leaves one or two behind per
    run whose processes are gone."""
    stray = shm_segments() - before - _segments_in_use()
    for name in stray:
        (SHM / name).unlink(missing_ok=True)
    return stray
