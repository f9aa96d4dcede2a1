"""`python -m data_prep <task> --out DIR ...`: builds ZeroLab's training and evaluation sets.

    python -m data_prep countdown --out data/countdown [--train-size 327680] [--test-size 1024] [--seed 0]
    python -m data_prep countdown --out data/countdown-hub --source hub      # TinyZero's hub set (online)
    python -m data_prep game24 --out data/game24 [--test-fraction 0.2]
    python -m data_prep math --dataset gsm8k --out data/gsm8k [--source PATH]
    python -m data_prep templates                                             # the prompt templates

Each build writes train.parquet, test.parquet (math eval sets: test only) and meta.json. An existing
build is never replaced silently: identical content is a no-op, different content needs --force;
--if-missing keeps any complete build already there. Bad arguments exit 2 and write nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from data_prep import countdown, countdown_hub, game24, math_sets
from data_prep.rows import BuildError
from data_prep.tasks import TASKS
from data_prep.templates import TEMPLATES, get_template

EXAMPLE_NUMBERS, EXAMPLE_TARGET = [19, 36, 55, 7], 65


def _common(parser: argparse.ArgumentParser, task: str) -> None:
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    default = TASKS[task].template  # the task catalogue's default (data_prep/tasks.py)
    parser.add_argument("--template", default=default, choices=sorted(TEMPLATES), help="prompt template")
    parser.add_argument("--force", action="store_true", help="replace a different build already in --out")
    parser.add_argument(
        "--if-missing", action="store_true", help="exit at once if --out already holds a complete build"
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m data_prep", description=__doc__.split("\n")[0])
    tasks = root.add_subparsers(dest="task", required=True)

    task = tasks.add_parser(
        "countdown", help="Countdown: generated (solvable by construction) or from the hub"
    )
    _common(task, "countdown")
    task.add_argument("--train-size", type=int, default=327_680, help="train problems (TinyZero: 327,680)")
    task.add_argument("--test-size", type=int, default=1_024, help="held-out test problems (TinyZero: 1,024)")
    task.add_argument("--min-numbers", type=int, default=3, help="fewest numbers in a problem")
    task.add_argument("--max-numbers", type=int, default=4, help="most numbers in a problem")
    task.add_argument("--max-number", type=int, default=100, help="numbers are drawn from 1..MAX_NUMBER")
    task.add_argument("--max-target", type=int, default=100, help="targets lie in 1..MAX_TARGET")
    task.add_argument("--seed", type=int, default=0, help="random seed (test and train use separate streams)")
    task.add_argument(
        "--source",
        help=f"'hub' imports {countdown_hub.HUB_DATASET} (online), or a local parquet/jsonl/json copy with its "
        "columns (target, nums); takes rows in order, so --min/max-number(s), --max-target, --seed are unused",
    )

    task = tasks.add_parser("game24", help="24-point: every solvable hand of four numbers in 1..13")
    _common(task, "game24")
    task.add_argument("--test-fraction", type=float, default=0.2, help="share of hands held out for test")
    task.add_argument("--seed", type=int, default=0, help="seed of the deterministic train/test split")

    task = tasks.add_parser("math", help="GSM8K, MATH, MATH-500, AIME 2024/2025 from the hub or a local copy")
    _common(task, "math")
    task.add_argument("--dataset", required=True, choices=list(math_sets.SETS), help="which set")
    task.add_argument(
        "--source",
        help="local copy in the hub's column layout: one parquet/jsonl/json file (the test split) or a "
        "directory of files named like the hub's splits (train-*.parquet, test.jsonl, ...); default: the hub",
    )

    task = tasks.add_parser("templates", help="list the prompt templates with a rendered example")
    task.add_argument("--name", choices=sorted(TEMPLATES), help="show only this template")
    return root


def _show_templates(name: str | None) -> None:
    for template in [get_template(name)] if name else TEMPLATES.values():
        example = countdown.question(EXAMPLE_NUMBERS, EXAMPLE_TARGET, template.question_style)
        print(
            f"== {template.name}: answer_format={template.answer_format}, prefills_think={template.prefills_think}"
        )
        if template.chat_template is not None:
            print(f"-- text the model sees (set custom_chat_template to {template.chat_template!r}):")
            print(template.render_text(example))
        else:
            print("-- messages (rendered by the model's own chat template):")
            print(json.dumps(template.messages(example), indent=2))
        print()


def run(args: argparse.Namespace) -> dict:
    common = {"template": args.template, "force": args.force, "if_missing": args.if_missing}
    if args.task == "countdown" and args.source:
        sizes = {"train_size": args.train_size, "test_size": args.test_size}
        return countdown_hub.build(args.out, source=args.source, **sizes, **common)
    if args.task == "countdown":
        names = ("train_size", "test_size", "min_numbers", "max_numbers", "max_number", "max_target", "seed")
        return countdown.build(args.out, **{name: getattr(args, name) for name in names}, **common)
    if args.task == "game24":
        return game24.build(args.out, test_fraction=args.test_fraction, seed=args.seed, **common)
    return math_sets.build(args.out, dataset=args.dataset, source=args.source, **common)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.task == "templates":
        _show_templates(args.name)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        meta = run(args)
    except BuildError as error:
        print(f"python -m data_prep {args.task}: error: {error}", file=sys.stderr)
        return 2
    rows = ", ".join(f"{split} {count} rows" for split, count in meta["rows"].items())
    print(f"{args.out}: {meta['task']} ({rows}); details in {args.out}/meta.json")
    return 0
