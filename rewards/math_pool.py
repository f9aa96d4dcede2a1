"""A hard deadline for math-verify: a few helper processes, killed and replaced when a check overruns.

A thread cannot be stopped and `signal.alarm` only works in a main thread, but verl runs reward functions
in a thread pool (and in Ray actors). So each check is sent to a helper process (`python -m
rewards.math_check`, started with subprocess, never forked from the threaded parent) and the caller waits
on its reply with `select` for at most `timeout_s`; a helper that overruns (or dies) is killed, the check
counts as not verified with `timed_out`, and a fresh helper is started on demand. A helper found dead
(crashed on an earlier input, or killed) is replaced once within the same deadline.

This pool is the one piece of state in `rewards`: a cache of processes that never changes a result. Helpers
start lazily (about 1-2 s each, imports and warm-up, not charged to a deadline), at most MAX_HELPERS run,
threads wait for a free one, and they exit with the parent (their stdin closes).

    python -m pytest tests/rewards/test_math_pool.py -q
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MAX_HELPERS = min(4, os.cpu_count() or 1)
START_TIMEOUT_S = 120.0  # imports on a loaded node; a helper that cannot start in this time is an error
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])  # so `-m rewards.math_check` works uninstalled


@dataclass(frozen=True)
class CheckResult:
    correct: bool
    pred: str
    timed_out: bool


class _Helper:
    def __init__(self) -> None:
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.getenv("PYTHONPATH")]))
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rewards.math_check"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # inherited: a helper that fails to import says why in the worker's log
            env=env,
            text=True,
        )
        if self._read_line(START_TIMEOUT_S) is None:
            self.kill()
            raise RuntimeError(
                f"the math-verify helper `{sys.executable} -m rewards.math_check` exited or was not ready "
                f"within {START_TIMEOUT_S:.0f} s (exit code {self.process.returncode}); its stderr says why"
            )

    def _read_line(self, timeout_s: float) -> dict | None:
        ready, _, _ = select.select([self.process.stdout], [], [], max(timeout_s, 0.0))
        if not ready:
            return None
        line = self.process.stdout.readline()  # a reply is written as one line and flushed at once
        try:
            return json.loads(line) if line else None
        except ValueError:  # not our protocol: treat the helper as broken
            return None

    def check(self, request: dict, timeout_s: float) -> dict | None:
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        return self._read_line(timeout_s)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class HelperPool:
    def __init__(self, max_helpers: int = MAX_HELPERS) -> None:
        self._idle: queue.SimpleQueue[_Helper] = queue.SimpleQueue()
        self._slots = threading.BoundedSemaphore(max_helpers)
        self._all: set[_Helper] = set()
        self._lock = threading.Lock()

    def check(self, gold: str, answer: str, mode: str, timeout_s: float) -> CheckResult:
        request = {"gold": gold, "answer": answer, "mode": mode}
        with self._slots:
            for _attempt in range(2):  # a helper found dead (crashed earlier, killed) gets one replacement
                helper = self._take()  # may start a helper: not charged to the deadline
                started = time.monotonic()
                reply = helper.check(request, timeout_s)
                if reply is not None:
                    self._idle.put(helper)
                    return CheckResult(bool(reply["correct"]), str(reply["pred"]), timed_out=False)
                self._discard(helper)
                if time.monotonic() - started >= timeout_s:
                    return CheckResult(False, "", timed_out=True)
        return CheckResult(False, "", timed_out=False)

    def _take(self) -> _Helper:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            helper = _Helper()
            with self._lock:
                self._all.add(helper)
            return helper

    def _discard(self, helper: _Helper) -> None:
        helper.kill()
        with self._lock:
            self._all.discard(helper)

    def close(self) -> None:
        with self._lock:
            helpers, self._all = list(self._all), set()
        for helper in helpers:
            helper.kill()


_pool: HelperPool | None = None
_pool_lock = threading.Lock()


def check_in_helper(gold: str, answer: str, mode: str, timeout_s: float) -> CheckResult:
    """Run math_check.check(gold, answer, mode) in a helper process, giving up after `timeout_s`."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = HelperPool()
            atexit.register(_pool.close)
    return _pool.check(gold, answer, mode, timeout_s)
