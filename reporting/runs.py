"""Read the run records that `launch` leaves under results/<recipe>/runs/<run-id>/ (the reader side).

Each run directory holds run.json (written by launch/records.py), metrics.jsonl or per-attempt
metrics.attempt-<k>.jsonl files in verl's file-logger format (one line per step:
{"step": N, "data": {"metric/name": value}}), and optionally a wandb offline run. A run is
never dropped: a missing or truncated metrics file, a crash, an OOM or a divergence becomes its
status or a note. Exercised by `python -m launch report RECIPE` and tests/reporting/test_report.py.

Divergence: a null, NaN or infinite value in any actor/critic loss, score, entropy or grad-norm
metric. verl's file logger writes NaN and inf as null (orjson), so null counts as non-finite.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from launch.records import Metrics, merge_step, metrics_files, read_metrics_file
from reporting.wandb_offline import read_offline_history

# Statuses that already name how a run went wrong; a non-zero exit code does not overwrite them.
_NAMED_FAILURES = {"failed", "oom", "killed", "diverged"}
_DIVERGENCE_KEY = re.compile(r"^(actor|critic)/.*(loss|score|grad_norm|entropy)")


class ReportError(Exception):
    """Bad input to the report (missing records, bad arguments); the message says what and where."""


@dataclass
class RunRecord:
    run_id: str
    recipe: str
    group: str  # variant plus grid point: what one row of the summary aggregates over seeds
    seed: int | None
    meta: dict
    metrics: Metrics
    status: str
    notes: list[str] = field(default_factory=list)
    run_dir: Path | None = None

    @property
    def seed_label(self) -> str:
        return f"s{self.seed}" if self.seed is not None else "s?"

    @property
    def commit_label(self) -> str:
        """The code it ran: the commit's first 10 hex digits, `-dirty` when the checkout had changes."""
        commit = (self.meta.get("git_commit") or "")[:10]
        return f"{commit}-dirty" if commit and self.meta.get("git_dirty") else commit

    @property
    def aggregated(self) -> bool:
        """Only cleanly finished runs with metrics enter the mean ± std; the rest get their own row."""
        return self.status == "finished" and bool(self.metrics)


def parse_run_id(run_id: str, recipe: str) -> tuple[str, int | None]:
    """Split `<recipe>__<variant>[__<key><value>]__s<seed>` into (variant+grid, seed)."""
    body = run_id.removeprefix(f"{recipe}__")
    match = re.fullmatch(r"(.+)__s(\d+)", body)
    if match is None:
        return body, None
    return match.group(1), int(match.group(2))


def _metrics_for(run_dir: Path, meta: dict) -> tuple[Metrics, list[str], str | None]:
    # The attempt files are what verl wrote; metrics.jsonl is their merge (or a copy from another machine).
    files = metrics_files(run_dir)
    metrics: Metrics = {}
    notes: list[str] = []
    for path in files:
        part, part_notes = read_metrics_file(path)
        notes += part_notes
        for step, data in part.items():
            merge_step(metrics, step, data)
    if files:
        return metrics, notes, files[0].name if len(files) == 1 else "metrics.attempt-*.jsonl"
    offline = _offline_dir(run_dir, meta)
    if offline is not None:
        for history in read_offline_history(offline):
            for step, data in history.items():
                merge_step(metrics, step, data)
        return metrics, notes, "wandb offline"
    return metrics, notes, None


def _offline_dir(run_dir: Path, meta: dict) -> Path | None:
    offline = (meta.get("wandb") or {}).get("offline_dir")
    if not offline:
        return None
    for candidate in (Path(offline), run_dir / offline):
        if candidate.exists():
            return candidate
    return None


def first_non_finite(metrics: Metrics) -> tuple[int, str] | None:
    """(step, metric) of the first null/NaN/inf loss, score, entropy or grad norm, if any."""
    for step in sorted(metrics):
        for key, value in metrics[step].items():
            if _DIVERGENCE_KEY.match(key) and (value is None or not math.isfinite(value)):
                return step, key
    return None


def derive_status(meta: dict, metrics: Metrics, notes: list[str]) -> str:
    declared = meta.get("status", "unknown")
    attempts = meta.get("attempts") or []
    last = attempts[-1] if attempts else {}
    status = declared
    if declared not in _NAMED_FAILURES and last.get("exit_code") not in (0, None):
        # e.g. still "running" in run.json because the process died before the coordinator noticed
        status = "oom" if last.get("status") == "oom" else "failed"
        notes.append(f"attempt {last.get('attempt', len(attempts))} exited with code {last['exit_code']}")
    diverged_at = first_non_finite(metrics)
    if diverged_at is not None:
        notes.append(f"non-finite {diverged_at[1]} at step {diverged_at[0]}")
        if status in ("finished", "unknown"):
            status = "diverged"
    if not metrics:
        if status == "finished":
            return "no metrics"
        notes.append("no metrics")
    return status


def load_run(run_dir: Path, recipe: str) -> RunRecord:
    notes: list[str] = []
    meta_path = run_dir / "run.json"
    meta: dict = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            notes.append(f"run.json unreadable ({error.msg} at line {error.lineno})")
    else:
        notes.append("no run.json")
    run_id = meta.get("run_id") or run_dir.name
    group, seed = parse_run_id(run_id, recipe)
    metrics, metric_notes, source = _metrics_for(run_dir, meta)
    notes += metric_notes
    if source == "wandb offline":
        notes.append("metrics read from the wandb offline run")
    status = derive_status(meta, metrics, notes)
    return RunRecord(
        run_id,
        recipe,
        group,
        seed if seed is not None else meta.get("seed"),
        meta,
        metrics,
        status,
        notes,
        run_dir,
    )


def load_recipe_runs(results_dir: Path, recipe: str) -> list[RunRecord]:
    runs_dir = results_dir / recipe / "runs"
    if not runs_dir.is_dir():
        return []
    return [load_run(path, recipe) for path in sorted(runs_dir.iterdir()) if path.is_dir()]
