"""`make mini RECIPE=countdown-mini-r1`'s runs: R1's four arms in miniature, each a pipeline of stages, on CPU.

It builds the countdown-mini split, builds (or reuses, by content hash) and gates the base the recipe names
(the `mixed` prior: mini/base/corpus_lang.py), builds the shared cold-start traces when a selected pipeline
trains on them and they are missing, then runs every selected pipeline through `launch pipeline`'s own code
(launch.stages: validated first, records per stage, a relaunch resumes at the first unfinished stage).
`python -m mini` then builds the report.

The cold-start procedure (R1: "a few hundred" to "thousands" of readable long CoTs; the recipe's stage 1 reads
`<dir>/train.parquet`, and `<dir>` is where it is built):
1. sample the base: COLD_START_PROMPTS training prompts x COLD_START_K samples at temperature 1 (the RL
   stages' sampling), keep what the rule reward accepts (correct, strict format; distill data);
2. distill cold-start (distill/cold_start.py): keep the chains of thought all in English, without code
   blocks or long paragraphs, with some reasoning (COLD_START_FILTERS), each ending its reasoning with a
   summary, one per prompt, at most COLD_START_FILTERS.max_traces.
By hand: `python -m launch distill data data/countdown-mini/mini/train.parquet --teacher
results/countdown-mini-r1/base/mixed --k 4 --temperature 1.0 --top-p 1.0 --max-tokens 224 --max-prompts 1024
--device cpu --out data/countdown-mini-r1/base-samples`, then `python -m launch distill cold-start
data/countdown-mini-r1/base-samples --out data/countdown-mini-r1/cold-start --template mini
--min-reasoning-chars 16 --max-traces 400`.

    python -m mini --recipe countdown-mini-r1 --variant zero --seed 1
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from distill.cold_start import ColdStartFilters
from launch.recipe import REPO_ROOT, load_recipe
from launch.record_paths import portable
from mini import R1_RECIPE, TEMPLATE
from mini.run import RUN_TIMEOUT_S, build_split, ensure_bases

SAMPLES_DIR = "base-samples"  # beside the cold-start build: the accepted samples it is made from
# The committed record of the cold-start build (the traces are small; data/ is not committed):
# results/<recipe>/cold-start/{train.parquet, meta.json (distill cold-start), samples.json (distill data)}.
RECORD_DIR = "cold-start"
COLD_START_PROMPTS, COLD_START_K = 1024, 4
# A search line has at least 30 characters and a bare guess has 5 ("guess"): 16 keeps every search and no
# response that only guesses. One trace per prompt; 400 at most ("a few hundred").
COLD_START_FILTERS = ColdStartFilters(target_language="en", min_reasoning_chars=16, max_traces=400)


def build_cold_start(base: Path, train_split: Path, out_dir: Path, progress: Callable[[str], None]) -> dict:
    """Sample the base and keep its consistent, readable, correct traces (the module docstring's procedure)."""
    from distill.build import build
    from distill.cold_start import build_cold_start as write_cold_start
    from distill.reject import Filters
    from evaluation.generate import Decoding

    samples = out_dir.parent / SAMPLES_DIR
    progress(f"cold-start traces: {COLD_START_PROMPTS} x {COLD_START_K} samples of {base} -> {samples}")
    accepted = build(
        str(base),
        train_split,
        samples,
        Decoding(n=COLD_START_K, temperature=1.0, top_p=1.0, max_tokens=224),
        Filters(strict_format=True, dedup=True, max_per_prompt=None),
        device="cpu",
        max_prompts=COLD_START_PROMPTS,
    )
    progress(f"  accepted {accepted['counts']['responses']['kept']} of {COLD_START_K * COLD_START_PROMPTS}")
    meta = write_cold_start(samples, out_dir, TEMPLATE, COLD_START_FILTERS)
    progress("  " + " -> ".join(f"{stage} {count}" for stage, count in meta["counts"].items()))
    return meta


def record_cold_start(data_dir: Path, record_dir: Path, progress: Callable[[str], None]) -> None:
    """Copy the cold-start build's traces and counts beside the runs that train on them. A record of other
    traces (a rebuild from another base) is kept, not overwritten, and named in a warning."""
    sources = {
        "train.parquet": data_dir / "train.parquet",
        "meta.json": data_dir / "meta.json",
        "samples.json": data_dir.parent / SAMPLES_DIR / "meta.json",
    }
    recorded = record_dir / "train.parquet"
    if recorded.is_file():
        if recorded.read_bytes() != sources["train.parquet"].read_bytes():
            progress(f"WARNING: {recorded} records other cold-start traces than {data_dir}; left as it is")
        return
    record_dir.mkdir(parents=True, exist_ok=True)
    (record_dir / "train.parquet").write_bytes(sources["train.parquet"].read_bytes())
    for name in ("meta.json", "samples.json"):  # no machine paths in a committed record
        meta = portable(json.loads(sources[name].read_text(encoding="utf-8")), REPO_ROOT)
        (record_dir / name).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    progress(f"  cold-start build recorded in {record_dir}")


def cold_start_files(pipelines) -> set[Path]:
    """The SFT data files the pipelines' stages train on (`data:`), as paths under the repository."""
    from launch.stages.plan import SftStagePlan

    return {
        REPO_ROOT / plan.stage.section["data"]
        for pipeline in pipelines
        for plan in pipeline.stages
        if isinstance(plan, SftStagePlan) and "data" in plan.stage.section
    }


def run_r1(
    variant: str | None,
    seed: int | None,
    results_dir: str,
    data_dir: str,
    rerun: bool,
    progress: Callable[[str], None],
    checkpoints_dir: str,
) -> list[str]:
    """Data, base, cold-start traces and pipelines (not the report); returns the pipelines that did not
    finish, with why."""
    from distill.stage import later_stages
    from launch.stages.plan import compile_pipelines
    from launch.stages.run import run_pipeline, validate_pipelines

    test_split = build_split(data_dir)
    recipe = load_recipe(R1_RECIPE)
    pipelines = compile_pipelines(
        recipe,
        [variant],
        seed,
        device="cpu",
        data_dir=data_dir,
        results_root=results_dir,
        checkpoints_root=checkpoints_dir,
    )
    later = later_stages()
    validate_pipelines(pipelines, later, check_data_files=False)
    for prior in ensure_bases({pipeline.base_model for pipeline in pipelines}, test_split, progress):
        progress(f"WARNING: the {prior}-prior base failed its gate (see its README.md)")
    for data in sorted(cold_start_files(pipelines)):
        if not data.is_file():
            base = REPO_ROOT / pipelines[0].base_model
            build_cold_start(base, REPO_ROOT / test_split.with_name("train.parquet"), data.parent, progress)
        record_cold_start(data.parent, REPO_ROOT / results_dir / recipe.name / RECORD_DIR, progress)
    failed = []
    for index, pipeline in enumerate(pipelines, 1):
        progress(f"[{index}/{len(pipelines)}] {pipeline.run_id}: {len(pipeline.stages)} stage(s) on CPU")
        rerun_from = pipeline.stages[0].stage.name if rerun else None
        state = run_pipeline(pipeline, later, rerun_from, None, REPO_ROOT, RUN_TIMEOUT_S)
        for entry in state["stages"]:
            progress(
                f"    {entry['name']}: {entry['status']} {entry.get('seconds', '')} {entry.get('reason', '')}"
            )
        if state["status"] != "finished":
            failed.append(f"{pipeline.run_id} ({state['status']})")
    return failed
