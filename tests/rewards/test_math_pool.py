"""The hard deadline on math-verify holds where verl calls rewards: from worker threads."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rewards.math_pool import START_TIMEOUT_S, HelperPool

HANGS = r"10^{10^{10}}"  # sympy computes this power for minutes (the pool is called directly: no screen)


@pytest.fixture
def pool():
    helpers = HelperPool(max_helpers=2)
    helpers.check("1", "1", "latex", timeout_s=60)  # start one helper outside the timed part
    yield helpers
    helpers.close()


def test_deadline_holds_in_worker_threads(pool):
    with ThreadPoolExecutor(max_workers=4) as threads:
        started = time.monotonic()
        hanging = threads.submit(pool.check, "1", HANGS, "latex", 1.0)
        normal = [threads.submit(pool.check, "0.5", r"\frac{1}{2}", "latex", 10.0) for _ in range(6)]
        result = hanging.result()
        elapsed = time.monotonic() - started
    assert (result.correct, result.timed_out) == (False, True)
    assert 1.0 <= elapsed < 5.0
    assert all(future.result().correct for future in normal)


def run_queue_s() -> float:
    """Seconds this thread has been runnable but not running (Linux schedstat); 0.0 where unavailable."""
    try:
        with open("/proc/thread-self/schedstat") as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def test_a_hanging_check_returns_within_its_deadline_plus_200_ms(pool):
    # The bound is wall time the code makes the caller wait: after the deadline the caller only sends
    # SIGKILL and queues the helper for the pool's own restarter thread (reaping a helper that holds
    # gigabytes, and starting a new one, took 1-2 s on the caller's clock before). What a loaded machine
    # adds is taken out: the time this thread sat runnable in the run queue (a nice-19 process on this
    # 2-core machine wakes from a 0.3 s select up to 0.4 s late, with no helper running at all).
    timeout_s = 0.3
    started, queued = time.monotonic(), run_queue_s()
    result = pool.check("1", HANGS, "latex", timeout_s)
    waited = time.monotonic() - started - (run_queue_s() - queued)
    assert (result.correct, result.timed_out) == (False, True)
    assert timeout_s <= waited + 0.01 and waited < timeout_s + 0.2


def test_the_replacement_starts_off_the_callers_clock(pool):
    (killed,) = [helper.process for helper in pool._all]
    assert pool.check("1", HANGS, "latex", 0.3).timed_out
    # no further call: the pool's restarter reaps the killed helper and starts its successor
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and not pool._all:
        time.sleep(0.05)
    assert killed.poll() is not None
    assert [helper.process for helper in pool._all] != [killed] and len(pool._all) == 1
    assert pool.check("2", "2", "latex", timeout_s=60).correct
    assert len(pool._all) == 1  # the check took the warm successor instead of starting another


def test_a_dead_helper_is_replaced(pool):
    for helper in list(pool._all):
        helper.process.kill()
        helper.process.wait()
    assert pool.check("2", "2", "latex", timeout_s=60).correct  # a fresh helper takes over the same check


def test_close_stops_every_helper(pool):
    processes = [helper.process for helper in pool._all]
    pool.close()
    assert processes and all(process.poll() is not None for process in processes)
