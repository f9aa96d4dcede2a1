"""`--from-wandb ENTITY/PROJECT`: pull run histories from the W&B server for runs recorded elsewhere.

Runs are matched by name: `launch` names each wandb run after its run id
(`<recipe>__<variant>[__<key><value>]__s<seed>`), so only runs named `<recipe>__…` are taken, and
a run id that already has a local record is skipped (the local record wins). The key check happens
before wandb is imported or any network call, so a missing key fails at once with a clear message.
Exercised by `python -m launch report RECIPE --from-wandb ENTITY/PROJECT`.
"""

from __future__ import annotations

from launch.wandb_env import has_api_key
from reporting.runs import Metrics, ReportError, RunRecord, derive_status, merge_step, parse_run_id

# wandb run states -> our statuses ("crashed": the process died without telling the server).
_STATES = {
    "finished": "finished",
    "crashed": "failed",
    "failed": "failed",
    "killed": "killed",
    "running": "running",
}


def run_from_history(recipe: str, name: str, state: str, url: str, commit: str | None, rows) -> RunRecord:
    """Build a record from wandb history rows ({"_step": N, metric: value, ...})."""
    metrics: Metrics = {}
    for row in rows:
        if "_step" in row:
            merge_step(metrics, int(row["_step"]), {k: v for k, v in row.items() if not k.startswith("_")})
    group, seed = parse_run_id(name, recipe)
    meta = {
        "run_id": name,
        "status": _STATES.get(state, state),
        "git_commit": commit,
        "wandb": {"mode": "online", "url": url},
    }
    notes = ["pulled from the wandb API (no local record)"]
    return RunRecord(name, recipe, group, seed, meta, metrics, derive_status(meta, metrics, notes), notes)


def fetch_runs(entity_project: str, recipe: str, skip: set[str]) -> list[RunRecord]:
    if entity_project.count("/") != 1 or not all(entity_project.split("/")):
        raise ReportError(f"--from-wandb expects ENTITY/PROJECT, got {entity_project!r}")
    if not has_api_key():
        raise ReportError(
            "--from-wandb needs W&B credentials: set WANDB_API_KEY or run `wandb login` "
            "(offline runs need no key: their records are read from results/ directly)"
        )
    import wandb
    from tqdm import tqdm

    try:
        remote = [
            run for run in wandb.Api(timeout=60).runs(entity_project) if run.name.startswith(f"{recipe}__")
        ]
    except Exception as error:  # the client raises many types (HTTP, auth, value): name the cause
        raise ReportError(f"--from-wandb {entity_project}: {type(error).__name__}: {error}") from error
    return [
        run_from_history(
            recipe, run.name, run.state, run.url, getattr(run, "commit", None), run.scan_history()
        )
        for run in tqdm(remote, desc="wandb histories", unit="run")
        if run.name not in skip
    ]
