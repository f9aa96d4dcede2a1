"""The hard deadline on math-verify holds where verl calls rewards: from worker threads."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rewards.math_pool import HelperPool

HANGS = r"10^{10^{10}}"  # sympy computes this power for minutes


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


def test_a_dead_helper_is_replaced(pool):
    for helper in list(pool._all):
        helper.process.kill()
        helper.process.wait()
    assert pool.check("2", "2", "latex", timeout_s=60).correct  # a fresh helper takes over the same check


def test_close_stops_every_helper(pool):
    processes = [helper.process for helper in pool._all]
    pool.close()
    assert processes and all(process.poll() is not None for process in processes)
