"""`python -m launch <command>`: every ZeroLab command that turns recipes into runs and runs into results."""

from __future__ import annotations

import importlib
import sys

# command -> (module:function, one line of help); modules load only when their command runs.
COMMANDS = {
    "validate": (
        "launch.cli:validate_main",
        "check every run of recipes against the pinned verl schema and the data",
    ),
    "plan": ("launch.cli:plan_main", "print run ids and full verl commands of a recipe"),
    "train": ("launch.cli:train_main", "run one run of a recipe on this GPU node"),
    "sweep": ("launch.cli:sweep_main", "run all runs of a recipe: --launcher local, ray or slurm"),
    "attempt": ("launch.cli:attempt_main", "run one planned run here (what cluster jobs execute)"),
    "smoke": (
        "launch.cli:smoke_main",
        "CPU: the real verl GRPO trainer for a few steps with a tiny local model",
    ),
    "mini": (
        "launch.cli:mini_main",
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
    """Runs one command of the table, as `python -m launch NAME ARGV...` would (make smoke's report step)."""
    module, function = COMMANDS[name][0].split(":")
    return getattr(importlib.import_module(module), function)(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
