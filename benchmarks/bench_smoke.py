"""Wall time and peak memory of `make smoke` (python -m launch smoke): the whole CPU pipeline, measured.

Memory is the peak, over 0.5 s samples, of the summed PSS of the smoke process tree plus the Ray processes
it starts in sessions of their own (found by the attempt's Ray temp dir, /tmp/zl-*).

    python benchmarks/bench_smoke.py [--steps 2]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]


def tree_pss(root: psutil.Process) -> int:
    processes = {root.pid: root}
    try:
        processes |= {child.pid: child for child in root.children(recursive=True)}
    except psutil.NoSuchProcess:
        return 0
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any("/tmp/zl-" in part for part in proc.info["cmdline"] or []):
                processes[proc.pid] = proc
        except psutil.NoSuchProcess:
            continue
    total = 0
    for proc in processes.values():
        try:
            total += proc.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "launch", "smoke", "--steps", str(args.steps), "--out", out]
        started = time.monotonic()
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        root, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            peak = max(peak, tree_pss(root))
            time.sleep(0.5)
        wall = time.monotonic() - started
    print(
        f"make smoke ({args.steps} GRPO steps): exit {proc.returncode}, wall {wall:.1f} s, peak PSS {peak / 2**30:.2f} GiB"
    )
    print("targets: under 180 s and under 6 GiB on a 2-core, 24 GiB machine")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
