"""Session-wide hygiene: a test run leaves nothing in the system temp dir that it created."""

from __future__ import annotations

import contextlib
import fcntl
import tempfile
import time
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def no_stray_checkpoint_locks():
    """verl's checkpoint manager takes `ckpt_<hash>.lock` in the system temp dir for every checkpoint dir it
    creates (verl/utils/fs.py local_mkdir_safe) and never removes it: the trainer runs of this session
    (smoke, CPU backend, mini) would leave one per saved step. Removes the ones that appeared during the
    session and that no process holds any more."""
    temp = Path(tempfile.gettempdir())
    started = time.time()
    before = set(temp.glob("ckpt_*.lock"))
    yield
    for path in set(temp.glob("ckpt_*.lock")) - before:
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < started:
                continue
            with path.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a running trainer holds it
                path.unlink()
