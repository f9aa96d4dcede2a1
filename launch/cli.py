"""The run commands: `plan` prints what would run, `train` runs one run here, `sweep` runs them all with a
launcher (local / ray / slurm), `attempt` is what a cluster job executes for one run, `smoke` is `make smoke`.
Thin argparse layers over the run side's library functions; output is written here, not in the library.

Nothing launches before the plan validates against the pinned verl (launch.validate).

    python -m launch validate [RECIPE ...]
    python -m launch plan countdown-3b
    python -m launch train countdown-3b [--variant default] [--seed 1]
    python -m launch sweep countdown-ablations --launcher {local,ray,slurm} [--dry-run]
    python -m launch doctor RUN_DIR [RUN_DIR ...] [--json]
    python -m launch smoke [--steps 2] [--out outputs/smoke]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from launch import estimate, hardware, verl_config
from launch.plan import (
    CHECKPOINTS_DIR,
    DATA_DIR,
    RESULTS_DIR,
    RunPlan,
    compile_recipe,
    render_plans,
    select_variants,
)
from launch.preflight import PreflightError, ensure_data, preflight
from launch.recipe import REPO_ROOT, Recipe, RecipeError, list_recipes, load_recipe
from launch.ref_reset import ExportModel, RefResetInvalid, train
from launch.validate import RunInvalid, check_data, check_memory, validate_plans, validate_recipes


def _parser(command: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m launch {command}", description=description)
    parser.add_argument("recipe", help="recipe name in recipes/ (e.g. countdown-3b) or a YAML path")
    parser.add_argument("--variant", help="only this variant (default: all)")
    parser.add_argument("--variants", help="only these variants, comma-separated (e.g. grpo,dr_grpo)")
    parser.add_argument("--seed", type=int, help="only this seed, any seed (default: all of sweep.seeds)")
    parser.add_argument("--data-dir", default=DATA_DIR, help="where the data sets are built (default: data)")
    parser.add_argument("--results-dir", default=RESULTS_DIR, help="where run records go (default: results)")
    parser.add_argument(
        "--checkpoints-dir", default=CHECKPOINTS_DIR, help="where checkpoints go (default: checkpoints)"
    )
    _add_profile_flag(parser)
    return parser


def _add_profile_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        help="hardware profile in recipes/profiles/ for every GPU run (default: picked from nvidia-smi on a GPU "
        "node, else each recipe's own; 'recipe': each recipe's own; cpu runs always keep cpu)",
    )


def _choose_profile(command: str, requested: str | None) -> str | None:
    """The profile for the command's GPU runs; says which and why on stderr (stdout stays the plan)."""
    gpus = None if requested else hardware.detect_gpus()
    name, reason = hardware.choose(requested, gpus)
    print(f"{command}: profile: {reason}", file=sys.stderr)
    return name


def _plans(args: argparse.Namespace, command: str) -> list[RunPlan]:
    recipe = load_recipe(args.recipe)
    if recipe.distill is not None:
        raise RecipeError(
            f"{recipe.name} is a distillation recipe, not RL runs: python -m distill run {recipe.name}"
        )
    if recipe.stages is not None:
        raise RecipeError(f"{recipe.name} is a multi-stage recipe: python -m launch pipeline {recipe.name}")
    profile = _choose_profile(command, args.profile)
    dirs = {
        "data_dir": args.data_dir,
        "results_root": args.results_dir,
        "checkpoints_root": args.checkpoints_dir,
    }
    variants = [args.variant] if args.variant else select_variants(recipe, args.variants)
    return [
        plan for name in variants for plan in compile_recipe(recipe, name, args.seed, **dirs, profile=profile)
    ]


def _stdout_line(line: str) -> None:
    sys.stdout.write(line if line.endswith("\n") else line + "\n")
    sys.stdout.flush()


def _fail(command: str, error: Exception) -> int:
    print(f"{command}: error: {error}", file=sys.stderr)
    return 1


def validate_main(
    argv: list[str],
    distill_check: Callable[[Recipe, bool, str], int] | None = None,
    stages_check: Callable[[Recipe, bool, str, str | None], int] | None = None,
) -> int:
    """`python -m launch validate`: RL recipes here; a distillation recipe's runs are SFT runs, checked by
    `distill_check` (the front door passes distill's, `python -m distill validate`: launch never imports it);
    a multi-stage recipe's stages by `stages_check` (launch.stages.cli.validate_stage_recipe, given distill's
    SFT checks by the front door)."""
    parser = argparse.ArgumentParser(
        prog="python -m launch validate",
        description="Check every run of recipes against the pinned verl and the data.",
    )
    parser.add_argument(
        "recipes", nargs="*", help="recipe names or YAML paths (default: every shipped recipe)"
    )
    parser.add_argument("--data-dir", default=DATA_DIR, help="where the data sets are built (default: data)")
    parser.add_argument("--no-data-check", action="store_true", help="check configs only, not the data files")
    _add_profile_flag(parser)
    args = parser.parse_args(argv)
    names = args.recipes or list_recipes()
    try:
        verl_config.check_verl_version()
        profile = _choose_profile("validate", args.profile)
        count = 0
        for name in names:
            recipe = load_recipe(name)
            if recipe.stages is not None:
                if stages_check is None:
                    raise RecipeError(
                        f"{recipe.name} is a multi-stage recipe: python -m launch validate {name}"
                    )
                count += stages_check(recipe, not args.no_data_check, args.data_dir, profile)
                continue
            if recipe.distill is None:
                count += validate_recipes(
                    [str(recipe.path)], not args.no_data_check, args.data_dir, profile=profile
                )
                continue
            if distill_check is None:
                raise RecipeError(
                    f"{recipe.name} is a distillation recipe: python -m distill validate {recipe.name}"
                )
            count += distill_check(recipe, not args.no_data_check, args.data_dir)
    except (RecipeError, RunInvalid, verl_config.VerlConfigError) as error:
        return _fail("validate", error)
    version = verl_config.PINNED_VERL_VERSION
    print(f"validate: {count} run(s) of {len(names)} recipe(s) pass verl {version}'s checks")
    return 0


def plan_main(argv: list[str], later_stages: Callable[[], object] | None = None) -> int:
    """`later_stages`: what a multi-stage recipe's SFT stages need (the front door passes distill's)."""
    parser = _parser("plan", "Print each run id and its full verl command (validated, nothing launched).")
    parser.add_argument("--no-data-check", action="store_true", help="do not look for the data files")
    parser.add_argument(
        "--pass-rate",
        type=float,
        help="the base model's pass rate p on the task, for the group-size arithmetic (default: the step-0 "
        "validation of committed runs of the same model and data, if any)",
    )
    args = parser.parse_args(argv)
    try:
        if (recipe := load_recipe(args.recipe)).stages is not None:  # every stage's command: launch.stages
            from launch.stages.cli import plan_stages

            if later_stages is None:
                raise RecipeError(
                    f"{recipe.name} is a multi-stage recipe: plan it with python -m launch plan"
                )
            return plan_stages(args, recipe, later_stages(), _choose_profile("plan", args.profile))
        plans = _plans(args, "plan")
        validate_plans(plans, check_data_files=False, check_fit=False)
    except (RecipeError, RunInvalid) as error:
        return _fail("plan", error)
    sys.stdout.write(render_plans(plans))
    # The estimate of every run, then the refusal of any that does not fit (what validate and train say).
    print("\n" + estimate.assumptions())
    refused = []
    for plan in plans:
        print(estimate.render(estimate.estimate(plan), plan))
        try:
            check_memory(plan)
        except RunInvalid as problem:
            refused.append(problem)
    if not args.no_data_check:
        # Missing data is not an error here: `train` builds it; say so, with the command.
        for plan in plans:
            try:
                check_data(plan, REPO_ROOT)
            except RunInvalid as problem:
                print(f"plan: warning: {problem}", file=sys.stderr)
    print("\n" + _group_size_table(plans, args.pass_rate))
    for problem in refused:
        print(f"plan: error: {problem}", file=sys.stderr)
    return 1 if refused else 0


def _group_size_table(plans: list[RunPlan], pass_rate: float | None) -> str:
    from launch import group_size

    measured = (
        group_size.PassRate(pass_rate, "--pass-rate")
        if pass_rate is not None
        else group_size.measured_pass_rate(plans[0], REPO_ROOT / RESULTS_DIR)
    )
    own = {int(plan.overrides.get("actor_rollout_ref.rollout.n", 1)) for plan in plans}
    return group_size.render(measured, group_size.group_sizes(plans), own)


def _run_here(
    plans: list[RunPlan], dry_run: bool, configs: dict | None = None, export_model: ExportModel | None = None
) -> int:
    """Runs plans one after another on this node; a failed run is recorded and the next one starts.
    `configs`: the verl configs validation composed, by run id (an attempt composes the others itself);
    `export_model`: the checkpoint conversion a run with reference resets needs (launch.ref_reset)."""
    if dry_run:
        sys.stdout.write(render_plans(plans))
        return 0
    results = []
    for plan in plans:
        try:
            preflight(plan, REPO_ROOT)
        except (PreflightError, RunInvalid) as error:
            print(f"train: {plan.run_id}: pre-flight failed: {error}", file=sys.stderr)
            results.append((plan.run_id, "not started", str(error)))
            continue
        try:
            result = train(
                plan,
                REPO_ROOT,
                export_model,
                config=(configs or {}).get(plan.run_id),
                echo=_stdout_line,
                alarm=_stdout_line,
            )
        except RefResetInvalid as error:
            print(f"train: {error}", file=sys.stderr)
            results.append((plan.run_id, "failed", str(error)))
            continue
        results.append((plan.run_id, result.status, result.reason or f"records in {result.run_dir}"))
    print("\nruns:")
    for run_id, status, detail in results:
        print(f"  {status:<12} {run_id}  {detail}")
    return 0 if all(status == "finished" for _, status, _ in results) else 1


def train_main(argv: list[str], export_model: ExportModel | None = None) -> int:
    parser = _parser("train", "Run one run of a recipe on this GPU node (pre-flight, then verl).")
    args = parser.parse_args(argv)
    try:
        plans = _plans(args, "train")
        if len(plans) != 1:
            ids = ", ".join(plan.run_id for plan in plans)
            raise RecipeError(
                f"{args.recipe} has {len(plans)} runs ({ids}): pick one with --variant/--seed, or use sweep"
            )
        configs = validate_plans(plans, check_data_files=False)
    except (RecipeError, RunInvalid) as error:
        return _fail("train", error)
    return _run_here(plans, dry_run=False, configs=configs, export_model=export_model)


def sweep_main(argv: list[str], export_model: ExportModel | None = None) -> int:
    parser = _parser(
        "sweep", "Run every run of a recipe: here one after another, as Ray jobs, or as SLURM jobs."
    )
    parser.add_argument("--launcher", choices=["local", "ray", "slurm"], default="local")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (slurm: also write the scripts); launch nothing",
    )
    parser.add_argument("--address", help="ray: the cluster's dashboard address, e.g. http://HEAD_IP:8265")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="ray/slurm: the interpreter the jobs run, by a path valid on the cluster's nodes (default: this one)",
    )
    parser.add_argument("--partition", help="slurm: partition for the jobs")
    parser.add_argument("--time", help="slurm: time limit per job (default: 48:00:00)")
    parser.add_argument("--cpus-per-task", type=int, help="slurm: CPU cores per node (default: 8 per GPU)")
    parser.add_argument("--mem", default="0", help="slurm: memory per node (default: 0, all of it)")
    args = parser.parse_args(argv)
    try:
        plans = _plans(args, "sweep")
        configs = validate_plans(plans, check_data_files=args.launcher == "local" and not args.dry_run)
    except (RecipeError, RunInvalid) as error:
        return _fail("sweep", error)
    if args.launcher == "local":
        return _run_here(plans, args.dry_run, configs, export_model)
    if args.launcher == "slurm":
        from launch import slurm

        for plan in plans:
            script = slurm.write_sbatch(
                plan,
                REPO_ROOT,
                args.python,
                partition=args.partition,
                time_limit=args.time,
                cpus_per_task=args.cpus_per_task,
                mem=args.mem,
            )
            detail = "written (dry run)" if args.dry_run else f"submitted as SLURM job {slurm.submit(script)}"
            print(f"{plan.run_id}: {script} {detail}")
        return 0
    if not args.address:
        return _fail("sweep", RecipeError("--launcher ray needs --address http://HEAD_IP:8265"))
    from launch import ray_jobs

    try:
        for plan in plans:
            ray_jobs.check_shared_dirs(plan)
    except ValueError as error:
        return _fail("sweep", error)
    if args.dry_run:
        sys.stdout.write(render_plans(plans))
        return 0
    for run_id, job_id in ray_jobs.submit_jobs(plans, args.address, REPO_ROOT, python=args.python).items():
        print(f"{run_id}: Ray job {job_id} (status: ray job status --address {args.address} {job_id})")
    return 0


def attempt_main(argv: list[str], export_model: ExportModel | None = None) -> int:
    parser = _parser("attempt", "Run one planned run here (what a SLURM or Ray job executes).")
    parser.add_argument("--run-id", required=True, help="the run to execute")
    args = parser.parse_args(argv)
    try:
        plans = [plan for plan in _plans(args, "attempt") if plan.run_id == args.run_id]
        if not plans:
            raise RecipeError(
                f"{args.recipe} has no run {args.run_id!r}; see: python -m launch plan {args.recipe}"
            )
        configs = validate_plans(plans, check_data_files=False, root=Path.cwd())
        # A cluster job builds missing data itself (into the shared data dir) rather than fail on it.
        ensure_data(plans[0], Path.cwd())
    except (RecipeError, RunInvalid, PreflightError) as error:
        return _fail("attempt", error)
    try:
        result = train(
            plans[0],
            Path.cwd(),
            export_model,
            config=configs.get(plans[0].run_id),
            echo=_stdout_line,
            alarm=_stdout_line,
        )
    except RefResetInvalid as error:
        return _fail("attempt", error)
    return 0 if result.status == "finished" else 1


def doctor_main(argv: list[str]) -> int:
    """Exit status: 0 nothing found, 1 findings, 2 some run's records could not be read."""
    from launch.doctor.checks import DoctorInputError
    from launch.doctor.history import diagnose_run

    parser = argparse.ArgumentParser(
        prog="python -m launch doctor",
        description="Read run records and name the silent failures: one line per finding with its steps, "
        "the values that triggered it and what to try first (thresholds: launch/doctor/rules.py).",
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="results/<recipe>/runs/<run-id>")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON instead")
    args = parser.parse_args(argv)
    report, unreadable, found = {}, False, False
    for run_dir in args.run_dirs:
        try:
            findings, history, _ = diagnose_run(Path(run_dir))
        except DoctorInputError as error:
            unreadable = True
            report[run_dir] = {"error": str(error)}
            if not args.json:
                print(f"doctor: error: {error}", file=sys.stderr)
            continue
        found = found or bool(findings)
        report[run_dir] = {"control": history.control, "findings": [f.as_record() for f in findings]}
        if not args.json:
            control = " (control run: format-hacking not checked)" if history.control else ""
            print(f"{run_dir}: {len(findings) or 'no'} finding(s){control}")
            for finding in findings:
                print(f"  {finding.line()}")
    if args.json:
        print(json.dumps(report, indent=2))
    return 2 if unreadable else 1 if found else 0


def digest_main(argv: list[str]) -> int:
    """Writes rollout_digest.json for run dirs whose dumps outlived their record (launch/rollout_digest.py)."""
    from launch.rollout_digest import write_digest

    parser = argparse.ArgumentParser(
        prog="python -m launch digest",
        description="Digest a run's rollout (else validation) dumps into rollout_digest.json beside run.json: "
        "per step counts, shares, lengths and examples, what `launch report` draws the aha view from. Runs do "
        "this at the end of every attempt; this is for dumps of runs made before, or copied in.",
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="results/<recipe>/runs/<run-id>")
    args = parser.parse_args(argv)
    missing = 0
    for run_dir in map(Path, args.run_dirs):
        path = write_digest(run_dir) if run_dir.is_dir() else None
        if path is None:
            missing += 1
            print(f"digest: {run_dir}: no rollouts/*.jsonl or validation/*.jsonl dumps", file=sys.stderr)
        else:
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 1 if missing else 0


def smoke_main(argv: list[str], report: Callable[[list[str]], int]) -> int:
    """`make smoke`: the smoke run (launch.smoke), then the report of its records with `report` (the front
    door passes reporting's `python -m launch report`: the run side never imports reporting)."""
    from launch import smoke

    parser = argparse.ArgumentParser(prog="python -m launch smoke", description=smoke.__doc__.split("\n")[0])
    parser.add_argument(
        "--steps", type=int, default=2, help="GRPO steps in total; more than last time resumes (default 2)"
    )
    parser.add_argument(
        "--out", default="outputs/smoke", help="where data, model and results go (default outputs/smoke)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=smoke.TRAINER_TIMEOUT_S,
        help="seconds before the trainer counts as hung",
    )
    parser.add_argument(
        "--rollout",
        choices=smoke.ROLLOUTS,
        default=smoke.ROLLOUTS[0],
        help="hfcpu: the CPU backend's server (default); vllm: verl's vLLM rollout (needs .venv-vllm)",
    )
    parser.add_argument("--recipe", choices=smoke.RECIPES, default=smoke.RECIPE, help="GPU recipe to shrink")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    out = (REPO_ROOT / args.out).resolve()

    def stage(name: str) -> None:
        print(f"\n=== smoke: {name}", flush=True)

    try:
        plan, result, seconds = smoke.run_smoke(
            out,
            args.steps,
            args.timeout,
            echo=_stdout_line,
            stage=stage,
            recipe_name=args.recipe,
            rollout=args.rollout,
        )
    except RuntimeError as error:
        return _fail("smoke", error)
    print(f"smoke: trainer {result.status} in {seconds:.0f} s (attempt {result.attempt})", flush=True)
    stage("building the report from the run's records")
    results = out / "results"
    report_code = report([args.recipe, "--results-dir", str(results)])
    run_dir = REPO_ROOT / plan.run_dir
    print(f"\nsmoke: {result.status}{f' ({result.reason})' if result.reason else ''}")
    print(f"  metrics: {run_dir / 'metrics.jsonl'}")
    print(f"  record:  {run_dir / 'run.json'}")
    print(f"  report:  {results / args.recipe / 'summary.md'}")
    print(f"  wandb (offline): {run_dir / 'wandb'}")
    return 0 if result.status == "finished" and report_code == 0 else 1


def smoke_variants_main(argv: list[str]) -> int:
    """Two real verl steps of every variant of every shipped recipe on CPU (launch.variant_smoke)."""
    from launch import variant_smoke

    parser = argparse.ArgumentParser(
        prog="python -m launch smoke-variants", description=variant_smoke.__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--recipe", action="append", help="only this recipe (repeatable; default: every RL recipe)"
    )
    parser.add_argument("--variants", help="only these variants, comma-separated (with one --recipe)")
    parser.add_argument(
        "--out", default="outputs/smoke-variants", help="where data, model, metrics and summary.json go"
    )
    parser.add_argument(
        "--scope",
        choices=variant_smoke.SCOPES,
        default="code-paths",
        help="code-paths (default, what make test runs): one run per distinct verl code path; configs: one run "
        "per distinct verl config (several times longer)",
    )
    parser.add_argument(
        "--rollout",
        choices=variant_smoke.ROLLOUTS,
        default=variant_smoke.ROLLOUTS[0],
        help="vllm (with .venv-vllm's python): only the variants that touch the rollout, through verl's vLLM rollout",
    )
    args = parser.parse_args(argv)
    out = (REPO_ROOT / args.out).resolve()
    try:
        pairs = variant_smoke.shipped_variants(args.recipe)
        if args.variants:
            if not args.recipe or len(args.recipe) != 1:
                raise RecipeError("--variants picks variants of one recipe: give exactly one --recipe")
            chosen = select_variants(load_recipe(args.recipe[0]), args.variants)
            pairs = [(recipe, variant) for recipe, variant in pairs if variant in chosen]
        model_dir, data_dir = variant_smoke.build_inputs(out, args.rollout)
        runs = variant_smoke.plan_variants(pairs, model_dir, data_dir, out, args.scope, args.rollout)
    except (RecipeError, RunInvalid) as error:
        return _fail("smoke-variants", error)
    if not runs:
        return _fail("smoke-variants", RecipeError(f"no selected variant runs with rollout {args.rollout}"))
    print(f"smoke-variants: {len(pairs)} variant(s), {len(runs)} distinct verl config(s)", flush=True)
    runs = variant_smoke.run_variants(runs, out, progress=_stdout_line)
    summary = out / "summary.json"
    summary.write_text(json.dumps([variant_smoke.describe(run) for run in runs], indent=1) + "\n")
    failed = [run for run in runs if run.status != "finished"]
    for run in failed:
        print(f"smoke-variants: FAILED {run.name}: {run.reason}", file=sys.stderr)
    print(f"smoke-variants: {len(runs) - len(failed)}/{len(runs)} finished; {summary}")
    return 1 if failed else 0
