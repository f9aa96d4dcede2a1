"""A hard deadline for math-verify: a few helper processes, killed and replaced when a check overruns.

A thread cannot be stopped and `signal.alarm` only works in a main thread, but verl runs reward functions
in a thread pool (and in Ray actors). So each check is sent to a helper process (`python -m
rewards.math_check`, started with subprocess, never forked from the threaded parent) and the caller waits
on its reply with `select` for at most `timeout_s`; a helper that overruns (or dies) gets SIGKILL, the
check counts as not verified with `timed_out`, and the caller returns at once. Reaping the killed helper
(tearing down gigabytes of sympy integers can take a second) and starting its replacement (1-2 s of
imports) happen on a background thread, off every caller's clock: a hanging check returns within
`timeout_s` plus a few milliseconds, and the replacement is usually warm before the next check needs it.
A helper found dead (crashed on an earlier input, or killed) is replaced once within the same deadline.

This pool is the one piece of state in `rewards`: a cache of processes that never changes a result. Helpers
start lazily (not charged to a deadline), at most MAX_HELPERS run or are starting, threads wait for a free
one, and they exit with the parent (their stdin closes).

    python -m pytest tests/rewards/test_math_pool.py -q
"""

from __future__ import annotations

import atexit
import contextlib
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
        self._max_helpers = max_helpers
        self._idle: queue.SimpleQueue[_Helper | None] = queue.SimpleQueue()  # None: a restart failed
        self._slots = threading.BoundedSemaphore(max_helpers)
        self._all: set[_Helper] = set()
        self._live = 0  # helpers running or being started; at most max_helpers
        self._closed = False
        self._lock = threading.Lock()
        # One long-lived thread reaps killed helpers and starts their successors: a caller only enqueues
        # (starting a thread per kill would make the caller wait until the new thread is first scheduled).
        self._dead: queue.SimpleQueue[_Helper | None] = queue.SimpleQueue()  # None: stop
        threading.Thread(target=self._restart_loop, daemon=True, name="math-helper-restarter").start()

    def check(self, gold: str, answer: str, mode: str, timeout_s: float) -> CheckResult:
        request = {"gold": gold, "answer": answer, "mode": mode}
        with self._slots:
            for _attempt in range(2):  # a helper found dead (crashed earlier, killed) gets one replacement
                helper = self._take()  # may wait for a helper to start: not charged to the deadline
                started = time.monotonic()
                reply = helper.check(request, timeout_s)
                if reply is not None:
                    self._idle.put(helper)
                    return CheckResult(bool(reply["correct"]), str(reply["pred"]), timed_out=False)
                self._replace(helper)
                if time.monotonic() - started >= timeout_s:
                    return CheckResult(False, "", timed_out=True)
        return CheckResult(False, "", timed_out=False)

    def _take(self) -> _Helper:
        """An idle helper; else a new one if fewer than max_helpers live; else the next one to come free.

        A caller holds one of max_helpers slots, so when all max_helpers helpers are live and none is idle,
        at least one of them is a replacement being started for a caller that is waiting here."""
        while True:
            try:
                helper = self._idle.get_nowait()
            except queue.Empty:
                with self._lock:
                    start_here = self._live < self._max_helpers
                    self._live += start_here
                if start_here:
                    return self._start()
                try:
                    helper = self._idle.get(timeout=START_TIMEOUT_S)
                except queue.Empty:
                    raise RuntimeError(
                        f"no math-verify helper came free within {START_TIMEOUT_S:.0f} s"
                    ) from None
            if helper is not None:
                return helper

    def _start(self) -> _Helper:
        try:
            helper = _Helper()
        except BaseException:
            with self._lock:
                self._live -= 1
            raise
        with self._lock:
            self._all.add(helper)
        return helper

    def _replace(self, helper: _Helper) -> None:
        """Kill an overrun or dead helper now; reap it and start its successor off the caller's clock."""
        helper.process.kill()  # SIGKILL returns at once; waiting for the exit can take a second
        with self._lock:
            self._all.discard(helper)
        self._dead.put(helper)

    def _restart_loop(self) -> None:
        while (dead := self._dead.get()) is not None:
            self._restart(dead)

    def _restart(self, dead: _Helper) -> None:
        dead.process.wait()
        for stream in (dead.process.stdin, dead.process.stdout):
            with contextlib.suppress(OSError):  # a pending write fails on the broken pipe
                stream.close()
        if self._closed:
            return
        try:
            helper = self._start()
        except Exception:  # noqa: BLE001 - a waiting caller retries the start itself and reports why
            self._idle.put(None)
            return
        if self._closed:  # close() ran while it started
            helper.kill()
            return
        self._idle.put(helper)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            helpers, self._all = list(self._all), set()
        self._dead.put(None)
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
