"""`python -m launch pipeline`: run a multi-stage recipe's stages in order, one pipeline per variant x seed;
and what `launch plan` and `launch validate` do with a multi-stage recipe. Thin layers over launch.stages.

Every stage of every selected pipeline is validated before the first stage starts. A relaunch resumes at
each pipeline's first unfinished stage; `--rerun-from STAGE` runs STAGE and every later stage again
(launch.stages.state says what happens to their old records and checkpoints).

    python -m launch pipeline countdown-r1 [--variant default] [--seed 1] [--device gpu|cpu] [--dry-run]
    python -m launch pipeline countdown-r1 --rerun-from rejection-sft
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable

from launch import estimate
from launch.plan import CHECKPOINTS_DIR, DATA_DIR, RESULTS_DIR, select_variants
from launch.recipe import REPO_ROOT, Recipe, RecipeError, load_recipe
from launch.stages.plan import Pipeline, RlStagePlan, compile_pipelines
from launch.stages.run import LaterStages, render_pipeline, run_pipeline, validate_pipelines
from launch.stages.schema import is_multi_stage
from launch.stages.state import stale_stages
from launch.validate import RunInvalid, check_data
from launch.verl_config import VerlConfigError

ERRORS = (RecipeError, RunInvalid, VerlConfigError)


def _stdout_line(line: str) -> None:
    sys.stdout.write(line if line.endswith("\n") else line + "\n")
    sys.stdout.flush()


def _default_device(recipe: Recipe) -> str:
    return "cpu" if recipe.profile == "cpu" else "gpu"


def pipelines_of(
    recipe: Recipe, args: argparse.Namespace, profile: str | None = None, device: str | None = None
) -> list[Pipeline]:
    """The pipelines `args` (--variant/--variants, --seed and the dirs) select."""
    if not is_multi_stage(recipe):
        raise RecipeError(f"{recipe.name} has no stages: list; run it with `python -m launch train`")
    variants = [args.variant] if args.variant else select_variants(recipe, getattr(args, "variants", None))
    return compile_pipelines(
        recipe,
        variants,
        args.seed,
        device=device or getattr(args, "device", None) or _default_device(recipe),
        data_dir=args.data_dir,
        results_root=args.results_dir,
        checkpoints_root=args.checkpoints_dir,
        profile=profile,
    )


def validate_stage_recipe(
    recipe: Recipe, later: LaterStages, check_data_files: bool, data_dir: str, profile: str | None
) -> int:
    """`launch validate` of a multi-stage recipe: every stage of every pipeline; returns the stage count."""
    args = argparse.Namespace(
        variant=None, seed=None, data_dir=data_dir, results_dir=RESULTS_DIR, checkpoints_dir=CHECKPOINTS_DIR
    )
    pipelines = pipelines_of(recipe, args, profile)
    validate_pipelines(pipelines, later, check_data_files)
    return sum(len(pipeline.stages) for pipeline in pipelines)


def plan_stages(args: argparse.Namespace, recipe: Recipe, later: LaterStages, profile: str | None) -> int:
    """`launch plan` of a multi-stage recipe: every stage's command, in order, for every pipeline."""
    try:
        pipelines = pipelines_of(recipe, args, profile)
        validate_pipelines(pipelines, later, check_data_files=False, check_fit=False)
    except ERRORS as error:
        print(f"plan: error: {error}", file=sys.stderr)
        return 1
    header = f"# {len(pipelines)} pipeline(s) of recipe {recipe.name}; paths are relative to the repo root"
    sys.stdout.write("\n\n".join([header, *(render_pipeline(p, later) for p in pipelines)]))
    # Each RL stage's GPU estimate, on the base model's architecture (a stage's model is a checkpoint of it).
    print("\n" + estimate.assumptions())
    for pipeline in pipelines:
        for plan in pipeline.stages:
            if isinstance(plan, RlStagePlan):
                sized = dataclasses.replace(plan, model=pipeline.base_model)
                print(estimate.render(estimate.estimate(sized), sized))
    if not args.no_data_check:
        for pipeline in pipelines:
            for plan in pipeline.stages:
                if isinstance(plan, RlStagePlan):  # its data is built by `pipeline` when missing
                    try:
                        check_data(plan, REPO_ROOT)
                    except RunInvalid as problem:
                        print(f"plan: warning: {problem}", file=sys.stderr)
    return 0


def pipeline_main(argv: list[str], later: Callable[[], LaterStages]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m launch pipeline",
        description="Run a multi-stage recipe's stages in order (validated first; resumes where it stopped).",
    )
    parser.add_argument("recipe", help="a recipe with a stages: list (e.g. countdown-r1) or a YAML path")
    parser.add_argument("--variant", help="only this variant (default: all)")
    parser.add_argument("--variants", help="only these variants, comma-separated")
    parser.add_argument("--seed", type=int, help="only this seed, any seed (default: all of sweep.seeds)")
    parser.add_argument(
        "--device",
        choices=("gpu", "cpu"),
        help="gpu: verl on this GPU node; cpu: the CPU backend (default: cpu for a recipe with profile cpu)",
    )
    parser.add_argument(
        "--rerun-from",
        metavar="STAGE",
        help="run this finished stage again, and every stage after it (their checkpoints are deleted, their "
        "old records kept as stages/<nn>-<name>.replaced-<time>/)",
    )
    parser.add_argument("--dry-run", action="store_true", help="validate and print every stage; run nothing")
    parser.add_argument("--data-dir", default=DATA_DIR, help="where the data sets are built (default: data)")
    parser.add_argument("--results-dir", default=RESULTS_DIR, help="where records go (default: results)")
    parser.add_argument("--checkpoints-dir", default=CHECKPOINTS_DIR, help="where checkpoints go")
    parser.add_argument("--profile", help="hardware profile in recipes/profiles/ (default: the recipe's)")
    parser.add_argument("--timeout", type=float, help="seconds before an RL stage's trainer counts as hung")
    args = parser.parse_args(argv)
    tools = later()
    try:
        recipe = load_recipe(args.recipe)
        pipelines = pipelines_of(recipe, args, args.profile)
        validate_pipelines(pipelines, tools, check_data_files=False)
    except ERRORS as error:
        print(f"pipeline: error: {error}", file=sys.stderr)
        return 1
    for pipeline in pipelines:
        sys.stdout.write(render_pipeline(pipeline, tools) + "\n")
    if args.dry_run:
        return 0
    outcomes = []
    for pipeline in pipelines:
        if stale := stale_stages(pipeline, REPO_ROOT):
            print(
                f"pipeline: note: {pipeline.run_id}: stage(s) {', '.join(stale)} finished under another version of "
                f"the recipe and are kept; --rerun-from {stale[0]} runs them again",
                file=sys.stderr,
            )
        try:
            state = run_pipeline(pipeline, tools, args.rerun_from, _stdout_line, REPO_ROOT, args.timeout)
        except ERRORS as error:
            print(f"pipeline: {pipeline.run_id}: error: {error}", file=sys.stderr)
            outcomes.append((pipeline.run_id, "not started", str(error)))
            continue
        failed = [entry for entry in state["stages"] if entry["status"] not in ("finished", "pending")]
        detail = failed[0].get("reason", "") if failed else f"stages: {', '.join(state['finished_stages'])}"
        outcomes.append((pipeline.run_id, state["status"], detail))
    print("\npipelines:")
    for run_id, status, detail in outcomes:
        print(f"  {status:<12} {run_id}  {detail}")
    return 0 if all(status == "finished" for _, status, _ in outcomes) else 1
