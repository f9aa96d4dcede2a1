"""The learning test's margin, measured: search-share rise of short countdown-mini runs over seeds.

Runs mini.probe for every (variant, seed) one after another (about 4 minutes each on 2 cores) and
prints each rise, then the smallest rise of the rewarded runs and the largest of the controls: the CI
learning test's MARGIN (tests/mini/test_learning.py) must lie between them.

    python benchmarks/calibrate_mini_probe.py [--variants grpo random_reward] [--seeds 1 2 3 4 5] [--steps 12]
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mini.probe import probe  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=["grpo", "random_reward"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    rises: dict[str, list[float]] = {}
    for variant in args.variants:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory(prefix="mini-probe-") as work:
                result = probe(variant, seed, args.steps, Path(work), timeout_s=900)
            if result.status != "finished":
                print(f"{variant} s{seed}: {result.status} ({result.reason})", flush=True)
                continue
            shares = " ".join(f"{result.shares[s]:.2f}" for s in sorted(result.shares))
            print(f"{variant} s{seed}: rise {result.rise:+.3f}   shares by step: {shares}", flush=True)
            rises.setdefault(variant, []).append(result.rise)
    for variant, values in rises.items():
        print(f"{variant}: min {min(values):+.3f}  max {max(values):+.3f}  over {len(values)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
