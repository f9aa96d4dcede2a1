"""`python -m launch <command>`: the front door to every ZeroLab command, from recipes to runs to results.

The one module allowed to reach every stage: each command names its stage's function as "module:function",
loaded only when the command runs; tests/test_layout.py reads this table as imports of this module.

    python -m launch [COMMAND --help]
"""

from __future__ import annotations

import importlib
import sys

# command -> (module:function, one line of help); modules load only when their command runs.
COMMANDS = {
    "validate": (
        "launch.__main__:validate_main",
        "check every run of recipes against the pinned verl schema and the data",
    ),
    "plan": ("launch.__main__:plan_main", "print run ids and full verl commands of a recipe (every stage's)"),
    "train": ("launch.__main__:train_main", "run one run of a recipe on this GPU node"),
    "sweep": ("launch.__main__:sweep_main", "run all runs of a recipe: --launcher local, ray or slurm"),
    "pipeline": (
        "launch.__main__:pipeline_main",
        "run a multi-stage recipe's stages in order (R1's SFT and RL stages), resuming where it stopped",
    ),
    "attempt": ("launch.__main__:attempt_main", "run one planned run here (what cluster jobs execute)"),
    "smoke": (
        "launch.__main__:smoke_main",
        "CPU: the real verl GRPO trainer for a few steps with a tiny local model",
    ),
    "smoke-variants": (
        "launch.cli:smoke_variants_main",
        "CPU: two real verl steps of every variant of every shipped recipe (what CI runs)",
    ),
    "mini": (
        "mini.__main__:main",
        "CPU: R1-Zero in miniature, pre-trained tiny base + GRPO sweep + report",
    ),
    "doctor": (
        "launch.cli:doctor_main",
        "name the silent failures in run records (no-signal, NaN, ...)",
    ),
    "digest": (
        "launch.cli:digest_main",
        "digest a run's rollout dumps into rollout_digest.json (the committed input of the aha view)",
    ),
    "report": (
        "reporting.cli:report_main",
        "curves, summary.md and the aha view of a recipe from its run records",
    ),
    "eval": ("evaluation.cli:eval_main", "evaluate a model or checkpoint on a task's test split (GPU)"),
    "eval-checkpoints": ("evaluation.cli:eval_checkpoints_main", "evaluate every checkpoint of a run (GPU)"),
    "score": (
        "evaluation.cli:score_main",
        "score a generations parquet on CPU: pass@k, maj@k, format, length",
    ),
    "distill": (
        "distill.cli:main",
        "rejection-sampling distillation: teacher samples -> rule filter -> SFT data -> verl SFT -> eval",
    ),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        listing = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items())
        print(f"usage: python -m launch <command> [options]\n\ncommands:\n{listing}")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nerror: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    return run_command(argv[0], argv[1:])


def run_command(name: str, argv: list[str]) -> int:
    """Runs one command of the table, as `python -m launch NAME ARGV...` does."""
    module, function = COMMANDS[name][0].split(":")
    return getattr(importlib.import_module(module), function)(argv)


# Functions of later stages that a launch command hands work to, loaded like the commands (and read as this
# module's imports by tests/test_layout.py): launch itself never imports a later stage.
HANDOFFS = {
    "distill-check": "distill.plan:validate_distill_recipe",
    "later-stages": "distill.stage:later_stages",  # a multi-stage recipe's SFT stages and stage models
    # a checkpoint as a Hugging Face model dir: the reference of a run with resets (launch.ref_reset)
    "export-model": "distill.stage:export_stage_model",
}


def _handoff(name: str):
    module, function = HANDOFFS[name].split(":")
    return getattr(importlib.import_module(module), function)


def validate_main(argv: list[str]) -> int:
    """`make validate`: launch checks the RL recipes, distill the distillation recipes (launch.cli.validate_main)."""
    from launch.cli import validate_main as validate
    from launch.stages.cli import validate_stage_recipe

    return validate(
        argv,
        distill_check=lambda *args: _handoff("distill-check")(*args),
        stages_check=lambda recipe, *args: validate_stage_recipe(recipe, _handoff("later-stages")(), *args),
    )


def _export_model(checkpoint_dir, target):
    return _handoff("export-model")(checkpoint_dir, target)


def train_main(argv: list[str]) -> int:
    """`make train`: launch.cli.train_main, with the checkpoint conversion reference resets need."""
    from launch.cli import train_main as train

    return train(argv, export_model=_export_model)


def sweep_main(argv: list[str]) -> int:
    """`make sweep`: launch.cli.sweep_main, with the checkpoint conversion reference resets need."""
    from launch.cli import sweep_main as sweep

    return sweep(argv, export_model=_export_model)


def attempt_main(argv: list[str]) -> int:
    """A cluster job's run: launch.cli.attempt_main, with the checkpoint conversion reference resets need."""
    from launch.cli import attempt_main as attempt

    return attempt(argv, export_model=_export_model)


def plan_main(argv: list[str]) -> int:
    """`make plan`: launch's plan, a multi-stage recipe's SFT stages rendered by distill (launch.cli.plan_main)."""
    from launch.cli import plan_main as plan

    return plan(argv, later_stages=lambda: _handoff("later-stages")())


def pipeline_main(argv: list[str]) -> int:
    """`python -m launch pipeline`: the stages in order, SFT stages handed to distill (launch.stages.cli)."""
    from launch.stages.cli import pipeline_main as run_stages

    return run_stages(argv, later=lambda: _handoff("later-stages")())


def smoke_main(argv: list[str]) -> int:
    """`make smoke`: launch's smoke run, then its report by this table's `report` (launch.cli.smoke_main)."""
    from launch.cli import smoke_main as smoke_and_report

    return smoke_and_report(argv, report=lambda report_argv: run_command("report", report_argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
