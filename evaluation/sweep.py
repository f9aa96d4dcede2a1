"""`python -m launch eval-checkpoints RUN_DIR`: evaluate every saved checkpoint of a run, plot accuracy vs step.

RUN_DIR is results/<recipe>/runs/<run-id>/. Its run.json names the checkpoint dir (`checkpoint_dir`, where
`global_step_N/actor` dirs live) and the run's own validation splits (`overrides["data.val_files"]`) and
response budget (`overrides["data.max_response_length"]`), so checkpoints are scored on the splits, with the
template and length, that the run trained against. Each step is evaluated as `launch eval` does into
eval/step_<N>/<task>.json (+ .jsonl); a step already evaluated is kept unless --force. Then

    eval/accuracy_vs_step.json   {"tasks": {task: [{"step", "mean@n", "greedy_acc", "maj@n", "pass@n"}, ...]}}
    eval/accuracy_vs_step.png    those curves, x = training step

are rebuilt from every eval/step_<N>/*.json; that part needs no GPU.

    python -m launch eval-checkpoints results/countdown-3b/runs/countdown-3b__base__s0 --n 8
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from tqdm import tqdm

from evaluation.checkpoint import CheckpointError
from evaluation.evaluate import add_generation_arguments, decoding_from, hardware_from, read_split, run_eval
from evaluation.generate import GenerationError, require_gpu
from evaluation.score import ScoreError, write_json

CHECKPOINT_STEP_DIR = re.compile(r"global_step_(\d+)")
EVAL_STEP_DIR = re.compile(r"step_(\d+)")
CURVE_NAME = "accuracy_vs_step"


def read_run(run_dir: Path) -> dict:
    path = run_dir / "run.json"
    if not path.is_file():
        raise ValueError(
            f"{path} does not exist: RUN_DIR must be a run's results dir (results/<recipe>/runs/<id>)"
        )
    return json.loads(path.read_text())


def saved_steps(checkpoint_dir: Path) -> dict[int, Path]:
    """{N: global_step_N/actor} for every checkpoint the trainer saved."""
    if not checkpoint_dir.is_dir():
        raise ValueError(
            f"checkpoint dir {checkpoint_dir} does not exist (run.json checkpoint_dir or --checkpoint-dir)"
        )
    steps = {}
    for step_dir in checkpoint_dir.iterdir():
        match = CHECKPOINT_STEP_DIR.fullmatch(step_dir.name)
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


def plot_curve(curve: dict, png_path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for task, points in curve["tasks"].items():
        steps = [point["step"] for point in points]
        line = axes.plot(
            steps, [p["mean@n"] for p in points], marker="o", label=f"{task} mean@{points[-1]['n']}"
        )
        color = line[0].get_color()
        if all(p["greedy_acc"] is not None for p in points):
            axes.plot(steps, [p["greedy_acc"] for p in points], "--", color=color, label=f"{task} greedy")
        axes.plot(
            steps, [p["maj@n"] for p in points], ":", color=color, label=f"{task} maj@{points[-1]['n']}"
        )
    axes.set(xlabel="training step", ylabel="accuracy", ylim=(-0.02, 1.02), title=title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png_path, dpi=120)
    plt.close(figure)


def write_curve(run_dir: Path) -> tuple[Path, Path]:
    eval_dir = run_dir / "eval"
    curve = accuracy_curve(eval_dir)
    if not curve["tasks"]:
        raise ValueError(f"no evaluated steps under {eval_dir} (eval/step_<N>/<task>.json)")
    json_path, png_path = eval_dir / f"{CURVE_NAME}.json", eval_dir / f"{CURVE_NAME}.png"
    write_json(json_path, curve)
    plot_curve(curve, png_path, title=run_dir.name)
    return json_path, png_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m launch eval-checkpoints", description=__doc__.splitlines()[0]
    )
    parser.add_argument("run_dir", help="results/<recipe>/runs/<run-id> (holds run.json)")
    parser.add_argument(
        "--checkpoint-dir", help="where global_step_N/ live (default: run.json checkpoint_dir)"
    )
    parser.add_argument(
        "--data", action="append", help="test split parquet (repeatable; default: the run's val files)"
    )
    parser.add_argument("--force", action="store_true", help="re-evaluate steps that already have results")
    add_generation_arguments(parser)
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    try:
        run = read_run(run_dir)
        checkpoint_dir = args.checkpoint_dir or run.get("checkpoint_dir")
        if not checkpoint_dir:
            raise ValueError(f"{run_dir / 'run.json'} has no checkpoint_dir: pass --checkpoint-dir")
        steps = saved_steps(Path(checkpoint_dir))
        splits = [read_split(path, task_of(path), None) for path in val_files(run, args.data)]
        response_length = run.get("overrides", {}).get("data.max_response_length")
        todo = [
            (step, actor, split)
            for step, actor in steps.items()
            for split in splits
            if args.force or not (run_dir / "eval" / f"step_{step}" / f"{split.data_source}.json").is_file()
        ]
        if todo:
            require_gpu()  # before converting any checkpoint
        command = ["python", "-m", "launch", "eval-checkpoints", *(sys.argv[1:] if argv is None else argv)]
        for step, actor, split in tqdm(todo, desc="checkpoints", unit="eval"):
            run_eval(
                str(actor),
                split,
                decoding_from(args, split.data_source, response_length),
                run_dir / "eval" / f"step_{step}",
                greedy=not args.no_greedy,
                hardware=hardware_from(args),
                merge_dir=Path(args.merge_dir) / f"global_step_{step}" if args.merge_dir else None,
                command=command,
            )
        json_path, png_path = write_curve(run_dir)
    except (ValueError, CheckpointError, GenerationError, ScoreError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    sys.stdout.write(f"{len(todo)} evaluation(s) run; curve: {png_path} ({json_path.name})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
