"""`python -m launch eval-checkpoints RUN_DIR`: evaluate every saved checkpoint of a run, plot accuracy vs step.

RUN_DIR is results/<recipe>/runs/<run-id>/. Its run.json names the checkpoint dir (`checkpoint_dir`, where
`global_step_N/actor` dirs live) and the run's own validation splits (`overrides["data.val_files"]`) and
response budget (`overrides["data.max_response_length"]`), so checkpoints are scored on the splits, with the
template and length, that the run trained against. Each step is evaluated as `launch eval` does into
eval/step_<N>/<task>.json (+ .jsonl); a step already evaluated is kept unless --force. Then

    eval/accuracy_vs_step.json   {"tasks": {task: [{"step", "mean@n", "greedy_acc", "maj@n", "pass@n"}, ...]}}
    eval/accuracy_vs_step.png    those curves, x = training step

are rebuilt from every eval/step_<N>/*.json; that part needs no GPU.

    python -m launch eval-checkpoints results/countdown-3b/runs/countdown-3b__default__s1 --n 8
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from evaluation.checkpoint import STEP_PATTERN
from evaluation.evaluate import read_split, run_eval
from evaluation.generate import Decoding, Hardware, require_device
from evaluation.score import write_json
from launch.record_paths import local_path
from launch.records import read_run_json
from reporting.plots import plot_accuracy_vs_step

EVAL_STEP_DIR = re.compile(r"step_(\d+)")
CURVE_NAME = "accuracy_vs_step"


def read_run(run_dir: Path) -> dict:
    if not (run_dir / "run.json").is_file():
        raise ValueError(
            f"{run_dir / 'run.json'} does not exist: RUN_DIR must be a run's results dir (results/<recipe>/runs/<id>)"
        )
    return read_run_json(run_dir)


def saved_steps(checkpoint_dir: Path) -> dict[int, Path]:
    """{N: global_step_N/actor} for every checkpoint the trainer saved."""
    if not checkpoint_dir.is_dir():
        raise ValueError(
            f"checkpoint dir {checkpoint_dir} does not exist (run.json checkpoint_dir or --checkpoint-dir)"
        )
    steps = {}
    for step_dir in checkpoint_dir.iterdir():
        match = STEP_PATTERN.fullmatch(step_dir.name)
        if match and (step_dir / "actor").is_dir():
            steps[int(match.group(1))] = step_dir / "actor"
    return dict(sorted(steps.items()))


def val_files(run: dict, data: list[str] | None) -> list[str]:
    if data:
        return data
    files = run.get("overrides", {}).get("data.val_files")
    if not files:
        raise ValueError("run.json has no overrides['data.val_files']: pass the test split(s) with --data")
    return [files] if isinstance(files, str) else list(files)


def task_of(path: str) -> str:
    """The data source of a split's rows: `launch eval`'s --task."""
    import pyarrow.parquet as pq

    sources = set(pq.read_table(path, columns=["data_source"]).column("data_source").to_pylist())
    if len(sources) != 1:
        raise ValueError(f"{path} mixes data sources {sorted(sources)}; evaluate one task per split")
    return sources.pop()


def accuracy_curve(eval_dir: Path) -> dict:
    """Per task, one point per evaluated step, from eval/step_<N>/<task>.json."""
    tasks: dict[str, list[dict]] = {}
    for result_path in sorted(eval_dir.glob("step_*/*.json")):
        match = EVAL_STEP_DIR.fullmatch(result_path.parent.name)
        if not match:
            continue
        result = json.loads(result_path.read_text())
        n = str(result["n"])
        point = {
            "step": int(match.group(1)),
            "n": result["n"],
            "mean@n": result["mean@n"],
            "greedy_acc": result.get("greedy_acc"),
            "maj@n": result["maj@k"][n],
            "pass@n": result["pass@k"][n],
        }
        tasks.setdefault(result_path.stem, []).append(point)
    return {
        "tasks": {task: sorted(points, key=lambda p: p["step"]) for task, points in sorted(tasks.items())}
    }


def write_curve(run_dir: Path) -> tuple[Path, Path]:
    eval_dir = run_dir / "eval"
    curve = accuracy_curve(eval_dir)
    if not curve["tasks"]:
        raise ValueError(f"no evaluated steps under {eval_dir} (eval/step_<N>/<task>.json)")
    json_path, png_path = eval_dir / f"{CURVE_NAME}.json", eval_dir / f"{CURVE_NAME}.png"
    write_json(json_path, curve)
    plot_accuracy_vs_step(curve, png_path, title=run_dir.name)
    return json_path, png_path


def evaluate_checkpoints(
    run_dir: Path,
    decoding_for: Callable[[str, int | None], Decoding],
    *,
    checkpoint_dir: str | None = None,
    data: list[str] | None = None,
    force: bool = False,
    greedy: bool = True,
    hardware: Hardware | None = None,
    merge_dir: str | None = None,
    command: list[str] | None = None,
    progress: Callable = lambda items, **_: items,
    echo: Callable[[str], None] | None = None,
) -> tuple[int, Path, Path]:
    """Evaluates every saved step not yet evaluated (all with `force`), then rebuilds the curve; returns
    (evaluations run, curve JSON, curve PNG). `decoding_for(task, run's response length)` gives the decoding."""
    run = read_run(run_dir)
    checkpoint_dir = checkpoint_dir or run.get("checkpoint_dir")
    if not checkpoint_dir:
        raise ValueError(f"{run_dir / 'run.json'} has no checkpoint_dir: pass --checkpoint-dir")
    steps = saved_steps(local_path(checkpoint_dir))  # run.json names it as launch.record_paths writes it
    splits = [read_split(path, task_of(path), None) for path in val_files(run, data)]
    response_length = run.get("overrides", {}).get("data.max_response_length")
    todo = [
        (step, actor, split)
        for step, actor in steps.items()
        for split in splits
        if force or not (run_dir / "eval" / f"step_{step}" / f"{split.data_source}.json").is_file()
    ]
    if todo:
        require_device(hardware or Hardware())  # before converting any checkpoint
    for step, actor, split in progress(todo, desc="checkpoints", unit="eval"):
        run_eval(
            str(actor),
            split,
            decoding_for(split.data_source, response_length),
            run_dir / "eval" / f"step_{step}",
            greedy=greedy,
            hardware=hardware,
            merge_dir=Path(merge_dir) / f"global_step_{step}" if merge_dir else None,
            command=command,
            echo=echo,
        )
    json_path, png_path = write_curve(run_dir)
    return len(todo), json_path, png_path
