"""Times the default Countdown build (327,680 train + 1,024 test problems) on one CPU core.

Runs the real CLI (`python -m data_prep countdown`) in a child process pinned to one core, into a fresh
temporary directory, and prints wall time, CPU time, peak memory and problems per second. Exits 1 when
the build misses the budget the data_prep issue sets (60 s, 2 GB).

    python benchmarks/bench_data_prep.py [--train-size N] [--test-size N] [--core 0]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

BUDGET_SECONDS = 60.0
BUDGET_BYTES = 2 * 1024**3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-size", type=int, default=327_680)
    parser.add_argument("--test-size", type=int, default=1_024)
    parser.add_argument("--core", type=int, default=0, help="CPU core the build is pinned to")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-data-prep-") as scratch:
        command = [
            sys.executable,
            "-m",
            "data_prep",
            "countdown",
            "--out",
            os.path.join(scratch, "countdown"),
            "--train-size",
            str(args.train_size),
            "--test-size",
            str(args.test_size),
        ]
        started = time.perf_counter()
        result = subprocess.run(
            command, capture_output=True, text=True, preexec_fn=lambda: os.sched_setaffinity(0, {args.core})
        )
        wall = time.perf_counter() - started
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return result.returncode
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the only child: the build
        sizes = {
            name: os.path.getsize(os.path.join(scratch, "countdown", name))
            for name in ("train.parquet", "test.parquet")
        }

    problems = args.train_size + args.test_size
    peak_bytes = usage.ru_maxrss * 1024  # Linux reports kilobytes
    print(
        f"countdown build: {problems:,} problems on core {args.core} (load average {os.getloadavg()[0]:.2f})"
    )
    print(
        f"  wall {wall:.1f} s, cpu {usage.ru_utime + usage.ru_stime:.1f} s, {problems / wall:,.0f} problems/s"
    )
    print(
        f"  peak RSS {peak_bytes / 1024**2:,.0f} MiB; files: "
        + ", ".join(f"{k} {v / 1024**2:.1f} MiB" for k, v in sizes.items())
    )
    within = wall < BUDGET_SECONDS and peak_bytes < BUDGET_BYTES
    print(
        f"  budget {BUDGET_SECONDS:.0f} s / {BUDGET_BYTES / 1024**3:.0f} GiB: {'met' if within else 'MISSED'}"
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
