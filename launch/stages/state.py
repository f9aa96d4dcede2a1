"""A pipeline's record, `results/<recipe>/runs/<run-id>/pipeline.json`, and what a relaunch runs.

pipeline.json names the recipe (and its hash), the variant, seed, device and base model, and for each stage its
kind, the model it started from, its record and checkpoint dirs, the model it produced, its status, times and
what its trainer reported; `finished_stages` lists the stages done, in order. A stage counts as finished
only when its trainer finished and its model was written (launch.stages.run).

A relaunch resumes at the first unfinished stage (an RL stage resumes from its own last checkpoint, as any
run does; an SFT stage starts again). A finished stage is never rerun silently: `rerun_from` names the stage
to run again, and every stage after it runs again too, since each trains on what the one before produced.
Their checkpoints are deleted and their old records kept beside the new ones as
`stages/<nn>-<name>.replaced-<UTC time>/`. A record whose finished stages do not match the recipe's (a stage
renamed, removed or reordered since) is refused, naming the stage, until `rerun_from` says where to start; a
finished stage that ran under another version of the recipe (each entry keeps the recipe's sha256) is kept,
and `stale_stages` names it so that the relaunch says so.

    python -m launch pipeline countdown-r1 --rerun-from rejection-sft
"""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path
from typing import Any

from launch.recipe import RecipeError
from launch.record_paths import portable
from launch.records import now
from launch.stages.plan import Pipeline, RlStagePlan, model_dir

PIPELINE_FILE = "pipeline.json"
FINISHED = "finished"


def read_state(run_dir: Path) -> dict[str, Any]:
    path = run_dir / PIPELINE_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def write_state(run_dir: Path, state: dict[str, Any], root: Path) -> None:
    state["finished_stages"] = [entry["name"] for entry in state["stages"] if entry["status"] == FINISHED]
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / f"{PIPELINE_FILE}.tmp"
    tmp.write_text(json.dumps(portable(state, root), indent=2, sort_keys=True) + "\n")
    tmp.replace(run_dir / PIPELINE_FILE)


def fresh_entry(plan) -> dict[str, Any]:
    stage = plan.stage
    return {
        "index": stage.index,
        "name": stage.name,
        "kind": stage.kind,
        "dir": f"stages/{stage.dir_name}",
        "start_model": plan.model if isinstance(plan, RlStagePlan) else plan.student,
        "checkpoint_dir": str(plan.checkpoint_dir),
        "model": str(model_dir(plan)),
        "status": "pending",
    }


def current_state(pipeline: Pipeline, root: Path) -> dict[str, Any]:
    """The pipeline's record, its header refreshed and an entry for every stage of the recipe."""
    state = read_state(root / pipeline.run_dir)
    recorded = {entry["index"]: entry for entry in state.get("stages", [])}
    state.update(
        recipe=pipeline.recipe.name,
        recipe_sha256=pipeline.recipe.sha256,
        run_id=pipeline.run_id,
        variant=pipeline.variant,
        seed=pipeline.seed,
        device=pipeline.device,
        base_model=pipeline.base_model,
        reproduce=pipeline.stages[0].reproduce,
    )
    state.setdefault("status", "planned")
    state["stages"] = [
        {**fresh_entry(plan), **_matching(recorded.get(plan.stage.index), plan)} for plan in pipeline.stages
    ]
    return state


def _matching(entry: dict | None, plan) -> dict:
    """What a recorded entry keeps: all of it when it is the same stage; a mismatch is kept for the check."""
    if entry is None:
        return {}
    if (entry.get("name"), entry.get("kind")) == (plan.stage.name, plan.stage.kind):
        return entry
    return {"status": entry.get("status"), "recorded_as": f"{entry.get('name')} ({entry.get('kind')})"}


def first_to_run(pipeline: Pipeline, state: dict[str, Any], rerun_from: str | None = None) -> int:
    """The 0-based position of the first stage to run; len(stages) when every stage has finished."""
    names = [plan.stage.name for plan in pipeline.stages]
    if rerun_from is not None and rerun_from not in names:
        raise RecipeError(
            f"{pipeline.recipe.name}: --rerun-from {rerun_from!r}: stages are {', '.join(names)}"
        )
    entries = state["stages"]
    first = next((i for i, entry in enumerate(entries) if entry["status"] != FINISHED), len(entries))
    limit = names.index(rerun_from) if rerun_from is not None else len(names)
    for position, entry in enumerate(entries[: min(first, limit)]):
        if "recorded_as" in entry:
            raise RecipeError(
                f"{pipeline.run_id}: stage {position + 1} finished as {entry['recorded_as']}, but the recipe's "
                f"stage {position + 1} is now {entry['name']} ({entry['kind']}); rerun from there with "
                f"--rerun-from {entry['name']}"
            )
    later = [entry["name"] for entry in entries[first + 1 :] if entry["status"] == FINISHED]
    if later and first < limit:
        raise RecipeError(
            f"{pipeline.run_id}: stage {entries[first]['name']!r} is unfinished but later stage(s) "
            f"{', '.join(later)} finished (trained on an earlier result); rerun with --rerun-from "
            f"{entries[first]['name']}"
        )
    return min(first, limit)


def stale_stages(pipeline: Pipeline, root: Path) -> list[str]:
    """Finished stages that ran under another version of the recipe (its sha256 then): they are kept, not
    rerun; the CLI names them, and `--rerun-from` is how to run them again."""
    recorded = read_state(root / pipeline.run_dir).get("stages", [])
    return [
        entry["name"]
        for entry in recorded
        if entry.get("status") == FINISHED
        and entry.get("recipe_sha256") not in (None, pipeline.recipe.sha256)
    ]


def clear_for_rerun(pipeline: Pipeline, state: dict[str, Any], start: int, root: Path) -> list[Path]:
    """Stages from `start` on start again: checkpoints deleted, records moved aside; returns what moved."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for plan, entry in zip(pipeline.stages[start:], state["stages"][start:], strict=False):
        record_dir = root / plan.run_dir
        if record_dir.exists():
            aside = record_dir.with_name(f"{record_dir.name}.replaced-{stamp}")
            record_dir.rename(aside)
            moved.append(aside)
        shutil.rmtree(root / plan.checkpoint_dir, ignore_errors=True)
        entry.clear()
        entry.update(fresh_entry(plan))
    return moved


def mark(state: dict[str, Any], position: int, **fields: Any) -> dict[str, Any]:
    entry = state["stages"][position]
    entry.update(fields)
    if fields.get("status") == "running":
        entry["started_at"] = now()
        entry.pop("ended_at", None)
        entry.pop("reason", None)
    elif "status" in fields:
        entry["ended_at"] = now()
    return entry
