"""A distillation recipe's students beside the RL runs of the same models: one table, one compute column.

A distill run (distill/plan.py) leaves run.json (kind "distill", student, teacher, seconds per stage),
distill.json (the data build's counts per filter stage), metrics.jsonl (verl's SFT logger) and
eval/<task>.json (greedy and mean@n on the test split). The RL runs beside it are every run under results/
whose run.json names the same `model` (countdown-ablations' size_0.5b for a Qwen2.5-0.5B student, the
miniature's no_prior control for the no-prior base), grouped by recipe and variant, mean ± std over seeds.

Accuracy is greedy wherever both sides allow it: the distilled student's `greedy_acc`, the RL run's final
validation when verl validated greedily (`val_kwargs.temperature: 0`); otherwise the cell says what it is.
Compute is what each side sampled and how many optimizer updates it made, plus wall-clock minutes: the
teacher's samples for a distilled student (its own RL run is not counted), the student's own rollouts for RL.

    python -m launch report countdown-mini-distill
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from reporting.runs import RunRecord, load_recipe_runs
from reporting.stats import (
    CURVES,
    VAL_ACC,
    AccuracyStats,
    Curve,
    accuracy_stats,
    mean_std,
    only_key,
    percent_cell,
)

SEARCH_RATE = next(curve for curve in CURVES if curve.name == "search_rate")

DISTILL_KIND = "distill"


def is_distill(run: RunRecord) -> bool:
    return run.meta.get("kind") == DISTILL_KIND


@dataclass(frozen=True)
class StudentRow:
    model: str
    how: str  # "distilled from <teacher>" or "RL: <recipe> <variant>"
    seeds: str
    accuracy: str  # mean ± std %, with what it measures
    start: str  # the same model before training, where the records have it
    search: str  # greedy share of responses that search (Countdown's has_search)
    mean_at_n: str
    sampled: str  # responses sampled to train it
    updates: str
    wall_min: str
    traces: str  # distillation: SFT traces kept (of the teacher's samples)
    commit: str


def _pct(values: Sequence[float]) -> str:
    return percent_cell(mean_std(values) if values else None)


def _mean_int(values: Sequence[float]) -> str:
    return f"{sum(values) / len(values):,.0f}" if values else "—"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _commits(runs: Sequence[RunRecord]) -> str:
    return ", ".join(sorted({run.commit_label for run in runs if run.commit_label})) or "—"


def eval_results(run: RunRecord) -> list[dict]:
    """The run's eval/<task>.json files (one per task evaluated)."""
    if run.run_dir is None:
        return []
    return [_read_json(path) for path in sorted((run.run_dir / "eval").glob("*.json"))]


def _sft_steps(run: RunRecord) -> int | None:
    steps = [step for step, data in run.metrics.items() if "train/loss" in data]
    return max(steps) if steps else None


def response_counts(run: RunRecord) -> dict:
    """A distill run's responses per filter stage (distill.json's counts: sampled, ..., kept); {} without one."""
    build = _read_json(run.run_dir / "distill.json") if run.run_dir else {}
    return build.get("counts", {}).get("responses", {})


def distill_row(model: str, runs: Sequence[RunRecord]) -> StudentRow:
    evals = [result for run in runs for result in eval_results(run)[:1]]
    counts = [response_counts(run) for run in runs]
    teachers = sorted({str(run.meta.get("teacher_run") or run.meta.get("teacher") or "?") for run in runs})
    ns = sorted({result.get("n") for result in evals if result.get("n")})
    sampled = [c["sampled"] for c in counts if isinstance(c.get("sampled"), int)]
    kept = [c["kept"] for c in counts if isinstance(c.get("kept"), int)]
    steps = [s for s in map(_sft_steps, runs) if s is not None]
    seconds = [sum((run.meta.get("stage_seconds") or {}).values()) for run in runs]
    return StudentRow(
        model=model,
        how=f"distilled from {', '.join(teachers)}",
        seeds=",".join(str(run.seed) for run in runs),
        accuracy=f"{_pct([r['greedy_acc'] for r in evals if 'greedy_acc' in r])} (greedy)",
        start="—",
        search=_pct([r["greedy_search_rate"] for r in evals if "greedy_search_rate" in r]),
        mean_at_n=f"{_pct([r['mean@n'] for r in evals if 'mean@n' in r])} (mean@{'/'.join(map(str, ns)) or '?'})",
        sampled=f"{_mean_int(sampled)} (teacher)" if sampled else "— (SFT on a file)",
        updates=_mean_int(steps),
        wall_min=_mean_int([s / 60 for s in seconds if s]) if any(seconds) else "—",
        traces=f"{_mean_int(kept)} of {_mean_int(sampled)}" if kept else "—",
        commit=_commits(runs),
    )


def _attempt_seconds(meta: dict) -> float:
    total = 0.0
    for attempt in meta.get("attempts") or []:
        try:
            ended = datetime.fromisoformat(attempt["ended_at"])
            started = datetime.fromisoformat(attempt["started_at"])
        except (KeyError, TypeError, ValueError):
            continue
        total += (ended - started).total_seconds()
    return total


def rl_compute(run: RunRecord) -> tuple[int, int] | None:
    """(responses sampled, policy updates) of an RL run: steps it logged x its batch settings."""
    overrides = run.meta.get("overrides") or {}
    steps = [step for step, data in run.metrics.items() if "critic/score/mean" in data]
    batch = overrides.get("data.train_batch_size")
    n = overrides.get("actor_rollout_ref.rollout.n", 1)
    mini = overrides.get("actor_rollout_ref.actor.ppo_mini_batch_size")
    epochs = overrides.get("actor_rollout_ref.actor.ppo_epochs") or 1
    if not steps or not all(isinstance(v, int) and v > 0 for v in (batch, n, mini)):
        return None
    return max(steps) * batch * n, max(steps) * math.ceil(batch / mini) * epochs


def _validated_greedily(run: RunRecord) -> bool:
    overrides = run.meta.get("overrides") or {}
    return overrides.get("actor_rollout_ref.rollout.val_kwargs.temperature") == 0


def _final(runs: Sequence[RunRecord], curve: Curve) -> AccuracyStats | None:
    key = only_key(runs, curve)
    return accuracy_stats(runs, key) if key is not None else None


def rl_row(model: str, label: str, runs: Sequence[RunRecord]) -> StudentRow:
    stats, search = _final(runs, VAL_ACC), _final(runs, SEARCH_RATE)
    measured = "greedy" if all(map(_validated_greedily, runs)) else "validation, val_kwargs"
    computes = [c for c in map(rl_compute, runs) if c is not None]
    seconds = [_attempt_seconds(run.meta) for run in runs]

    return StudentRow(
        model=model,
        how=f"RL: {label}",
        seeds=",".join(str(run.seed) for run in runs),
        accuracy=f"{percent_cell(stats.final if stats else None)} ({measured}, final step)",
        start=percent_cell(stats.first if stats else None),
        search=percent_cell(search.final if search else None),
        mean_at_n="—",
        sampled=f"{_mean_int([c[0] for c in computes])} (own rollouts)",
        updates=_mean_int([c[1] for c in computes]),
        wall_min=_mean_int([s / 60 for s in seconds if s]) if any(seconds) else "—",
        traces="—",
        commit=_commits(runs),
    )


def rl_runs_of(results_dir: Path, models: set[str]) -> dict[tuple[str, str], list[RunRecord]]:
    """{(model, "recipe variant"): cleanly finished RL runs of that model} over every recipe's records."""
    found: dict[tuple[str, str], list[RunRecord]] = {}
    for recipe_dir in sorted(path for path in results_dir.iterdir() if (path / "runs").is_dir()):
        for run in load_recipe_runs(results_dir, recipe_dir.name):
            model = run.meta.get("model")
            if is_distill(run) or model not in models or not run.aggregated:
                continue
            found.setdefault((model, f"{run.recipe} {run.group}"), []).append(run)
    return found


def students_rows(runs: Sequence[RunRecord], results_dir: Path) -> list[StudentRow]:
    """Per student model: its distilled runs (by variant), then every RL variant of the same model."""
    distilled = [run for run in runs if is_distill(run) and run.aggregated]
    models = list(dict.fromkeys(str(run.meta.get("student")) for run in distilled))
    rl = rl_runs_of(results_dir, set(models))
    rows = []
    for model in models:
        mine = [run for run in distilled if run.meta.get("student") == model]
        for group in dict.fromkeys(run.group for run in mine):
            rows.append(distill_row(model, [run for run in mine if run.group == group]))
        rows += [rl_row(model, label, group) for (owner, label), group in rl.items() if owner == model]
    return rows


STUDENT_NOTES = [
    "- **accuracy**: mean ± sample std over seeds on the test split. Distilled: the student's `greedy_acc` "
    "(eval/<task>.json). RL: the last validation `acc`, greedy where verl validated at temperature 0.",
    "- **before**: the same model's validation accuracy at step 0 of its RL run (the untrained student). "
    "**search**: greedy share of responses that search (`has_search`), at the end of training.",
    "- **sampled**: responses generated to train it: the teacher's samples for a distilled student (the "
    "teacher's own RL run not counted), the student's rollouts for RL. **updates**: optimizer steps (SFT "
    "steps; RL steps x mini-batches x PPO epochs). **wall**: minutes of the run (distill: data + SFT + eval).",
]


def students_table(runs: Sequence[RunRecord], results_dir: Path) -> list[str]:
    rows = students_rows(runs, results_dir)
    if not rows:
        return ["No finished distillation run yet: `python -m launch distill run RECIPE`."]
    header = [
        "student",
        "trained by",
        "seeds",
        "accuracy %",
        "before %",
        "search %",
        "sampled acc %",
        "sampled",
        "SFT traces",
        "updates",
        "wall (min)",
        "commit",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [
            f"`{row.model}`",
            row.how,
            row.seeds,
            row.accuracy,
            row.start,
            row.search,
            row.mean_at_n,
            row.sampled,
            row.traces,
            row.updates,
            row.wall_min,
            row.commit,
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return lines + ["", *STUDENT_NOTES]
