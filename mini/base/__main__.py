"""`python -m mini.base`: build (or reuse) a miniature base model, gate it, write its card.

python -m mini.base --out models/mini-base [--prior search|none|long|short] [--steps N] [--force]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from data_prep.tasks import build_command, split_path
from launch.recipe import REPO_ROOT
from mini import TASK, TEMPLATE
from mini.base.build import KNOWN_PRIORS, ensure_base, falls_short


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mini.base", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", required=True, help="model dir to build (reused when its build.json matches)"
    )
    parser.add_argument(
        "--prior",
        choices=KNOWN_PRIORS,
        default="search",
        help="planted behaviour: countdown-mini's search|none, the long miniature's long|short (default search)",
    )
    parser.add_argument("--steps", type=int, help="pre-training steps (default: the config's)")
    parser.add_argument("--data-dir", default="data", help="where the countdown-mini split lives or is built")
    parser.add_argument("--force", action="store_true", help="replace a different build in --out")
    parser.add_argument("--no-gate", action="store_true", help="skip the gate (for quick experiments)")
    args = parser.parse_args(argv)
    build = build_command(TASK, TEMPLATE, args.data_dir)
    subprocess.run([*build, "--if-missing"], check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    test_split = split_path(args.data_dir, TASK, TEMPLATE, "test")
    started = time.monotonic()

    def progress(step: int, loss: float, lr: float) -> None:
        print(
            f"pretrain step {step:5d}  loss {loss:.4f}  lr {lr:.2e}  {time.monotonic() - started:6.0f} s",
            flush=True,
        )

    try:
        out_dir, record, built = ensure_base(
            args.out, test_split, args.prior, args.steps, args.force, not args.no_gate, progress
        )
    except (FileExistsError, ValueError) as error:
        print(f"mini.base: error: {error}", file=sys.stderr)
        return 2
    print(
        f"{'built' if built else 'reusing'} {out_dir} (hash {record['hash'][:12]}, {record['parameters']:,} parameters)"
    )
    if args.no_gate:
        return 0
    gate = record["gate"]
    print(json.dumps(gate, indent=2))
    print(f"gate {'PASSED' if gate['passed'] else 'FAILED'}; model card: {out_dir / 'README.md'}")
    return 1 if falls_short(record) else 0


if __name__ == "__main__":
    sys.exit(main())
