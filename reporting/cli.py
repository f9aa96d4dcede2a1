"""The reporting command, a thin argparse layer over reporting.report.build_report (the front door,
`python -m launch`, dispatches here).

    python -m launch report countdown-mini
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reporting import report
from reporting.report import build_report
from reporting.runs import ReportError


def report_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m launch report", description=report.__doc__.splitlines()[0]
    )
    parser.add_argument("recipe", metavar="RECIPE", help="recipe name: reads results/RECIPE/runs/*/")
    parser.add_argument(
        "--results-dir", type=Path, default=Path("results"), help="results root (default: results)"
    )
    parser.add_argument(
        "--from-wandb",
        metavar="ENTITY/PROJECT",
        help="also pull runs named RECIPE__* from this W&B project (needs WANDB_API_KEY)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.1,
        help="self-verification share that marks the aha step (default: 0.1)",
    )
    args = parser.parse_args(argv)
    try:
        paths = build_report(args.recipe, args.results_dir, args.from_wandb, args.threshold)
    except ReportError as error:
        sys.stderr.write(f"report: {error}\n")
        return 2
    sys.stdout.write(
        f"wrote {paths.summary}, {len(paths.curves)} curve(s)"
        f"{', ' + str(paths.aha) if paths.aha else ''}; index {paths.index}\n"
    )
    return 0
