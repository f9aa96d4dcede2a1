"""Distillation recipes, validated and run: every run's options and verl SFT keys checked, then
data -> SFT -> eval, with the records under results/<recipe>/runs/<run-id>/. A run whose section is an
SftDataSection (SFT on a prepared parquet: a multi-stage recipe's cold start, distill/stage.py) skips the data
build and records kind "sft".

A run leaves `run.json` (recipe hash, run id, status, student, teacher as resolved and its run, seed, exact
SFT keys, seconds per stage, git commit and versions), `distill.json` (the data build's meta: counts per filter stage, acceptance, checksums),
`metrics.jsonl` (verl's SFT file logger: train/loss per step) and `eval/<task>.json` + `.jsonl`.

    python -m distill validate countdown-distill
    python -m launch distill run countdown-distill --variant qwen2.5-0.5b --seed 1 [--device cpu]
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distill.build import build
from distill.recipe import DistillRun, distill_runs, resolve_teacher, teacher_checkpoint_dir
from distill.reject import Filters
from distill.schema import DistillSection, SftDataSection
from distill.sft import run_sft, sft_overrides, validate_sft
from distill.write import sft_chat_template
from evaluation.cpu_eval import evaluate
from evaluation.evaluate import read_split
from evaluation.generate import Decoding
from launch import records
from launch.provenance import provenance
from launch.recipe import REPO_ROOT, Recipe, RecipeError
from launch.record_paths import portable
from launch.records import now
from launch.verl_config import VerlConfigError


def run_options(run: DistillRun) -> tuple[Decoding, Filters, Decoding]:
    """(teacher sampling, filters, student eval decoding); ValueError names the bad option."""
    section = run.section
    sampling = Decoding(
        n=section.k, temperature=section.temperature, top_p=section.top_p, max_tokens=section.max_tokens
    )
    filters = Filters(
        strict_format=section.strict_format,
        dedup=section.dedup,
        max_per_prompt=section.max_per_prompt,
        choice=section.choice,
        seed=run.seed,
        target_language=section.target_language,
    )
    return sampling, filters, eval_decoding(section)


def eval_decoding(section: DistillSection | SftDataSection) -> Decoding:
    e = section.eval
    return Decoding(n=e.n, temperature=e.temperature, top_p=e.top_p, max_tokens=e.max_tokens)


def run_sft_overrides(run: DistillRun, device: str = "gpu") -> dict:
    overrides = sft_overrides(
        run.build_dir, run.student, run.checkpoint_dir, sft_chat_template(run.template), run.run_id
    )
    if device == "cpu":
        from launch.cpu_backend import cpu_sft_overrides

        overrides.update(cpu_sft_overrides())
    if isinstance(run.section, SftDataSection):  # the traces are a file, not a build of this run
        overrides["data.train_files"] = str(Path(run.section.data).absolute())
    return {**overrides, **run.section.sft}


def validate_distill_recipe(recipe: Recipe, check_data_files: bool = True, data_dir: str = "data") -> int:
    """Checks every run of a distillation recipe; returns the number of runs. Raises RecipeError."""
    runs = distill_runs(recipe, data_dir=data_dir)
    if runs and runs[0].section.teacher_run is not None:
        teacher_checkpoint_dir(runs[0].section.teacher_run)
    for run in runs:
        try:
            run_options(run)
            validate_sft(run_sft_overrides(run))
        except (ValueError, VerlConfigError) as error:
            raise RecipeError(f"{recipe.name}: run {run.run_id}: {error}") from None
        if check_data_files:
            for split in (run.train_split, run.test_split):
                if not split.is_file():
                    raise RecipeError(
                        f"{recipe.name}: run {run.run_id}: {split} does not exist; build it with "
                        f"`python -m data_prep {recipe.task} --out {split.parent} --template {run.template}`"
                    )
    return len(runs)


def render_run(run: DistillRun, device: str = "gpu") -> str:
    """What a run will do, for a human to read before it starts: teacher, build, the exact SFT command."""
    import shlex

    from distill.sft import sft_command

    overrides = run_sft_overrides(run, device)
    command = sft_command(overrides, validate_sft(overrides))
    if isinstance(run.section, SftDataSection):
        lines = [f"# {run.run_id}: student {run.student}, SFT data {run.section.data}"]
    else:
        teacher = run.section.teacher or f"last checkpoint of {run.section.teacher_run}"
        lines = [
            f"# {run.run_id}: student {run.student}, teacher {teacher}",
            f"#   data build: {run.build_dir}",
        ]
    lines.append(" ".join(shlex.quote(arg) for arg in command))
    return "\n".join(lines) + "\n"


def run_distill(
    run: DistillRun,
    recipe: Recipe,
    device: str,
    force: bool = False,
    echo: Callable[[str], None] | None = None,
    reproduce: str | None = None,
) -> dict:
    """data -> SFT -> eval for one run (SFT -> eval when its section names the SFT `data`); returns the eval
    metrics. The SFT trainer's output goes to `echo`; `reproduce` replaces the `distill run` command recorded.

    run.json is written when the run starts (status "running"), after the data build and at the end
    ("finished", or "failed" naming the stage and error), with the seconds each stage took. A run that
    already finished is refused unless `force`: its records are what a report was made from."""
    sampled = isinstance(run.section, DistillSection)
    decoding = eval_decoding(run.section)
    previous = run.run_dir / "run.json"
    if not force and _status(previous) == "finished":
        raise RecipeError(f"{run.run_id} already finished ({previous}); pass --force to run it again")
    teacher = resolve_teacher(run.section) if sampled else None
    started = time.monotonic()
    record = {
        "recipe": recipe.name,
        "recipe_sha256": recipe.sha256,
        "run_id": run.run_id,
        "kind": "distill" if sampled else "sft",
        "status": "running",
        "started_at": now(),
        "student": run.student,
        **(
            {"teacher": teacher, "teacher_run": run.section.teacher_run}
            if sampled
            else {"data": run.section.data}
        ),
        "seed": run.seed,
        "device": device,
        "reproduce": reproduce
        or f"python -m launch distill run {recipe.name} --variant {run.variant} --seed {run.seed}"
        + (" --device cpu" if device == "cpu" else ""),
        "stage_seconds": {},
    }

    def write_record() -> None:
        records.write_run_json(run.run_dir, record)

    def stage(name: str, work: Callable[[], Any]) -> Any:
        began = time.monotonic()
        try:
            return work()
        except BaseException as error:
            record["stage_seconds"][name] = round(time.monotonic() - began, 1)
            record.update(status="failed", error=f"{name}: {error}", ended_at=now())
            write_record()
            raise
        finally:
            record["stage_seconds"][name] = round(time.monotonic() - began, 1)

    run.run_dir.mkdir(parents=True, exist_ok=True)
    write_record()
    if sampled:
        sampling, filters, _ = run_options(run)
        meta = stage(
            "data",
            lambda: build(
                teacher,
                run.train_split,
                run.build_dir,
                sampling,
                filters,
                device=device,
                max_prompts=run.section.max_prompts,
                force=force,
            ),
        )
        (run.run_dir / "distill.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    overrides = run_sft_overrides(run, device)
    env = {}
    if device == "cpu":
        from launch.cpu_backend import cpu_env

        env = cpu_env()
    record["sft_overrides"] = portable(overrides, REPO_ROOT)  # no machine paths in a committed record
    record.update(
        provenance(
            REPO_ROOT,
            "cpu" if device == "cpu" else "cuda",
            0 if device == "cpu" else int(overrides.get("trainer.n_gpus_per_node", 1)),
        )
    )
    write_record()
    checkpoint = stage("sft", lambda: run_sft(overrides, run.run_dir / "sft.log", env, echo))
    shutil.copy(run.checkpoint_dir / "metrics.jsonl", run.run_dir / "metrics.jsonl")
    split = read_split(run.test_split, recipe.task, run.template)
    result = stage(
        "eval",
        lambda: evaluate(
            str(checkpoint), split, decoding, run.run_dir / "eval", device=device, seed=run.seed
        ),
    )
    record.update(status="finished", ended_at=now(), wall_seconds=round(time.monotonic() - started, 1))
    write_record()
    return result


def _status(record: Path) -> str | None:
    try:
        return json.loads(record.read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return None
