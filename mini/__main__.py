"""`python -m mini` (`make mini`): data, bases and every selected run of countdown-mini on the CPU (mini.run),
then the report of its records, as `python -m launch report countdown-mini` builds it. `--rollout vllm` runs
them through verl's vLLM rollout (run it with the vLLM tier's python, .venv-vllm: `make mini ROLLOUT=vllm`).
`--recipe countdown-mini-r1` runs R1's arms instead, each a pipeline of stages (mini.r1).

    python -m mini [--variant grpo] [--seed 4] [--steps N] [--results-dir results] [--checkpoints-dir checkpoints]
                   [--rerun] [--rollout vllm]
    python -m mini --recipe countdown-mini-r1 [--variant zero] [--seed 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from launch.hardware import RECIPE_CHOICE
from launch.plan import CHECKPOINTS_DIR, DATA_DIR, RESULTS_DIR
from launch.recipe import RecipeError, load_profile
from launch.validate import RunInvalid
from mini import R1_RECIPE, RECIPE, RECIPES
from mini.run import ROLLOUTS, run_mini
from reporting.cli import report_main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mini", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--recipe", choices=RECIPES, default=RECIPE, help=f"the miniature recipe to run (default: {RECIPE})"
    )
    parser.add_argument("--variant", help="only this variant (default: all)")
    parser.add_argument("--seed", type=int, help="only this seed, any seed (default: all of sweep.seeds)")
    parser.add_argument("--steps", type=int, help="GRPO steps per run (default: the recipe's)")
    parser.add_argument("--results-dir", default=RESULTS_DIR, help="where run records and the report go")
    parser.add_argument("--data-dir", default=DATA_DIR, help="where the countdown-mini split is built")
    parser.add_argument(
        "--checkpoints-dir",
        default=CHECKPOINTS_DIR,
        help="where the runs' checkpoints go; a trial run into a scratch --results-dir wants a scratch one too, "
        "or the real run of the same id resumes from the trial's last checkpoint",
    )
    parser.add_argument("--rerun", action="store_true", help="run again even runs whose record says finished")
    parser.add_argument(
        "--rollout",
        choices=ROLLOUTS,
        default=ROLLOUTS[0],
        help=f"{ROLLOUTS[0]}: the CPU backend's server (default); vllm: verl's vLLM rollout (needs .venv-vllm; "
        "run ids <variant>_vllm)",
    )
    parser.add_argument(
        "--profile",
        help="accepted as by every run command (make PROFILE=); the miniature's runs are CPU runs, which keep "
        "the cpu profile whatever is asked",
    )
    args = parser.parse_args(argv)
    if args.profile:
        try:
            if args.profile != RECIPE_CHOICE:
                load_profile(args.profile)  # an unknown name is an error listing the known ones
        except RecipeError as error:
            parser.error(str(error))
        print(f"mini: profile: {args.recipe} runs on the CPU backend and keeps profile cpu", file=sys.stderr)

    def progress(line: str) -> None:
        print(f"=== mini: {line}", flush=True)

    if args.recipe == R1_RECIPE and (args.steps or args.rollout != ROLLOUTS[0]):
        parser.error(f"{R1_RECIPE} runs pipelines of stages with the recipe's own steps on {ROLLOUTS[0]}")
    try:
        if args.recipe == R1_RECIPE:  # multi-stage: R1's arms as pipelines (mini/r1.py)
            from mini.r1 import run_r1

            failed = run_r1(
                args.variant,
                args.seed,
                args.results_dir,
                args.data_dir,
                args.rerun,
                progress,
                args.checkpoints_dir,
            )
        else:
            failed = run_mini(
                args.variant,
                args.seed,
                args.steps,
                args.results_dir,
                args.data_dir,
                args.rerun,
                progress,
                args.rollout,
                args.checkpoints_dir,
                args.recipe,
            )
    except (RuntimeError, ValueError, RecipeError, RunInvalid, subprocess.CalledProcessError) as error:
        print(f"mini: error: {error}", file=sys.stderr)
        return 1
    report = report_main([args.recipe, "--results-dir", args.results_dir])
    if failed:
        print("mini: runs that did not finish: " + "; ".join(failed), file=sys.stderr)
    return 1 if failed or report else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
