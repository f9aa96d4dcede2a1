"""Writes a run's durable record: results/<recipe>/runs/<run-id>/{run.json, config.yaml, metrics*.jsonl, samples.jsonl,
rollout_digest.json}.

Every attempt of a run (a relaunch resumes from its last checkpoint) appends to run.json and logs to its own
`metrics.attempt-<k>.jsonl`, because verl's file logger truncates its file when it opens it; `metrics.jsonl` is
their key-level merge (reporting.runs reads both). Nothing here runs during training: the launcher calls
it before and after each attempt.

    python -m launch train countdown-3b      (or `make smoke`, which writes the same layout on CPU)
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from launch.plan import RunPlan
from launch.provenance import provenance
from launch.record_paths import portable, portable_text
from launch.rollout_digest import write_digest

SAMPLES_PER_DUMP = 2
# verl's file-logger lines, step -> metric -> value (null: NaN or inf, which orjson writes as null).
Metrics = dict[int, dict[str, float | None]]
_WANDB_URL = re.compile(r"https://wandb\.ai/\S+/runs/[A-Za-z0-9]+")


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def wandb_run_id(plan: RunPlan) -> str:
    """Stable per run, so every relaunch continues the same wandb run (with WANDB_RESUME=allow)."""
    return hashlib.sha1(f"{plan.recipe.name}/{plan.run_id}".encode()).hexdigest()[:16]


def read_run_json(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_run_json(run_dir: Path, record: dict[str, Any]) -> None:
    path = run_dir / "run.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def start_attempt(
    plan: RunPlan,
    root: Path,
    command: list[str],
    device: str,
    wandb: dict[str, Any],
    segment: dict[str, Any] | None = None,
) -> int:
    """Creates or extends run.json with a new running attempt; returns the attempt number. `segment`: the part
    of the run the attempt trains (launch/ref_reset.py), kept in its entry."""
    run_dir = root / plan.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    record = read_run_json(run_dir)
    gpus = int(plan.overrides.get("trainer.n_gpus_per_node", 1)) * int(
        plan.overrides.get("trainer.nnodes", 1)
    )
    source = provenance(root, device, gpus)
    attempts = record.get("attempts", [])
    attempt = len(attempts) + 1
    attempts.append(
        {
            "attempt": attempt,
            "started_at": now(),
            "ended_at": None,
            "exit_code": None,
            "status": "running",
            "git_commit": source["git_commit"],
            **({"segment": segment} if segment else {}),
        }
    )
    record.update(
        run_id=plan.run_id,
        recipe=plan.recipe.name,
        recipe_hash=plan.recipe.sha256,
        variant=plan.variant,
        seed=plan.seed,
        grid=dict(plan.grid_point),
        reproduce=plan.reproduce,
        model=plan.model,
        template=plan.template,
        profile=plan.profile.name,
        reward_kwargs=dict(plan.reward_kwargs),
        **({"ref_reset_every": plan.ref_reset_every} if plan.ref_reset_every else {}),
        overrides=dict(plan.overrides),
        env=dict(plan.env),
        command=command,
        **source,
        checkpoint_dir=str(plan.overrides["trainer.default_local_dir"]),
        attempts=attempts,
        status="running",
        wandb=wandb,
    )
    record.setdefault("gpu_hours", 0.0)
    write_run_json(run_dir, portable(record, root))  # no machine paths (launch.record_paths)
    return attempt


def write_resolved_config(run_dir: Path, config, root: Path) -> Path:
    """config.yaml: verl's full trainer config as this attempt composed it, interpolations resolved, paths
    under the checkout `root` made relative to it (launch.record_paths)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        text = OmegaConf.to_yaml(config, resolve=True)
    except OmegaConfBaseException:  # an interpolation only the trainer's environment can resolve
        text = OmegaConf.to_yaml(config)
    path = run_dir / "config.yaml"
    path.write_text(portable_text(text, root))
    return path


def finish_attempt(
    plan: RunPlan,
    root: Path,
    attempt: int,
    exit_code: int | None,
    status: str,
    reason: str | None = None,
    final: bool = True,
) -> dict:
    """Closes the attempt's entry; the run takes its status, except that a finished attempt that is not the run's
    `final` one (a part of a run trained in parts) leaves the run `running`."""
    run_dir = root / plan.run_dir
    record = read_run_json(run_dir)
    entry = record["attempts"][attempt - 1]
    entry.update(ended_at=now(), exit_code=exit_code, status=status, **({"reason": reason} if reason else {}))
    started = datetime.datetime.fromisoformat(entry["started_at"])
    hours = (datetime.datetime.fromisoformat(entry["ended_at"]) - started).total_seconds() / 3600
    record["gpu_hours"] = round(record.get("gpu_hours", 0.0) + hours * record["hardware"]["gpu_count"], 4)
    record["status"] = "running" if status == "finished" and not final else status
    log = run_dir / f"stdout.attempt-{attempt}.log"
    if record.get("wandb", {}).get("mode") == "online" and log.is_file():
        urls = _WANDB_URL.findall(log.read_text(errors="replace"))
        record["wandb"]["url"] = urls[-1] if urls else record["wandb"].get("url")
    write_run_json(run_dir, record)
    merge_metrics(run_dir)
    write_samples(run_dir)
    write_digest(run_dir)
    return record


def read_metrics_file(path: Path) -> tuple[Metrics, list[str]]:
    """Parse one file-logger JSONL file; a broken last line is reported as truncation, not raised."""
    metrics: Metrics = {}
    notes: list[str] = []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            step, data = int(row["step"]), row["data"]
        except (ValueError, KeyError, TypeError):
            if number == len(lines):
                notes.append(f"{path.name} truncated: last line ({number}) incomplete, earlier lines used")
            else:
                notes.append(f"{path.name} line {number} unreadable, skipped")
            continue
        merge_step(metrics, step, data)
    return metrics, notes


def merge_step(metrics: Metrics, step: int, data: dict) -> None:
    """Key-level merge so a relaunch that re-logs a step (e.g. validation only) keeps its train metrics."""
    target = metrics.setdefault(step, {})
    for key, value in data.items():
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            target[key] = None if value is None else float(value)


def attempt_metrics_path(run_dir: Path, attempt: int) -> Path:
    """Where verl's file logger writes an attempt's metrics: metrics.attempt-<k>.jsonl."""
    return run_dir / f"metrics.attempt-{attempt}.jsonl"


def attempt_metrics_files(run_dir: Path) -> dict[int, Path]:
    """Each attempt's metrics file by attempt number, in order: the one reader of the file name."""
    found = {}
    for path in run_dir.glob("metrics.attempt-*.jsonl"):
        digits = path.name.removeprefix("metrics.attempt-").removesuffix(".jsonl")
        if digits.isdigit():
            found[int(digits)] = path
    return dict(sorted(found.items()))


def metrics_files(run_dir: Path) -> list[Path]:
    """What a run's metrics are read from: every attempt's file in order, else the merged metrics.jsonl
    (a run copied from another machine may carry only that)."""
    merged = run_dir / "metrics.jsonl"
    return list(attempt_metrics_files(run_dir).values()) or ([merged] if merged.is_file() else [])


def merge_metrics(run_dir: Path) -> Path | None:
    """metrics.jsonl: every attempt's file-logger lines merged key by key (a later attempt wins)."""
    files = list(attempt_metrics_files(run_dir).values())
    if not files:
        return None
    merged: dict[int, dict] = {}
    for path in files:
        for step, data in read_metrics_file(path)[0].items():
            merge_step(merged, step, data)
    out = run_dir / "metrics.jsonl"
    out.write_text(
        "".join(json.dumps({"step": s, "data": merged[s]}, sort_keys=True) + "\n" for s in sorted(merged))
    )
    return out


def write_samples(run_dir: Path) -> Path | None:
    """A few generations from the first and last rollout and validation dumps, kept with the record."""
    samples = []
    for kind in ("rollouts", "validation"):
        dumps = sorted(
            (run_dir / kind).glob("*.jsonl"), key=lambda p: int(p.stem) if p.stem.isdigit() else -1
        )
        for path in dict.fromkeys([*dumps[:1], *dumps[-1:]]):
            with path.open(errors="replace") as lines:
                for line, _ in zip(lines, range(SAMPLES_PER_DUMP), strict=False):
                    try:
                        samples.append({"kind": kind, "dump": path.name, **json.loads(line)})
                    except json.JSONDecodeError:
                        break
    if not samples:
        return None
    out = run_dir / "samples.jsonl"
    out.write_text("".join(json.dumps(sample, sort_keys=True) + "\n" for sample in samples))
    return out


def write_doctor(run_dir: Path, **fields: Any) -> dict:
    """Updates run.json's `doctor` section (settings, findings, zero_std_group_share) with `fields`."""
    record = read_run_json(run_dir)
    section = {**record.get("doctor", {}), **fields, "checked_at": now()}
    record["doctor"] = section
    write_run_json(run_dir, record)
    return section
