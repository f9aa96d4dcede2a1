"""`make gpu-check`: measure verl's own actor and reference engines on this GPU against launch/estimate.py.

Runs launch.engine_check for each model shape (Qwen2.5-0.5B, 3B, 1.5B by default; random weights, no hub) at
the 1xh200 and 1x80gb profiles' token budgets, writes one JSON per model (`engine-<model>.json`: every phase's
seconds, tokens/s, TFLOP/s, peak allocated / reserved / device-used memory, verl's metrics, the estimate's
figures and a summary), env.json, errors.json when a model failed, prints a table, and writes the constants it
measured as a calibration file (launch.calibration). A model that fails is recorded and the next one still
runs; models are skipped once the time budget would be exceeded.

`--dry-cpu` runs the same path on CPU with the tiny local model (the CPU backend's platform): its calibration
file says `device: cpu`, which the estimate never uses, and it goes into --out, not recipes/calibration/.

    python benchmarks/gpu_check.py --out outputs/gpu-check                 # on a node with one NVIDIA GPU
    python benchmarks/gpu_check.py --dry-cpu --out /tmp/gpu-check-dry      # anywhere (tests/benchmarks/)

`--from-records DIR` re-derives the table and the calibration file from a run's saved JSON (no GPU): the
measurement's own provenance (when, which commit, which command) is kept from DIR's calibration file.

    python benchmarks/gpu_check.py --from-records results/gpu-check/nvidia-h200
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import traceback
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from launch import engine_check  # noqa: E402 - after the repo root is importable
from launch.calibration import CALIBRATION_DIR, slug, write  # noqa: E402
from launch.recipe import REPO_ROOT  # noqa: E402

# Seconds a model is expected to take at most on an H200 (engine build, three steps): a model is skipped when
# fewer than this remain of --budget-s. From a dry run's plan of the stages (../shared/GPU_DEVICE_NOTES.md).
EXPECTED_S = {"Qwen/Qwen2.5-0.5B": 55, "Qwen/Qwen2.5-1.5B": 75, "Qwen/Qwen2.5-3B": 110}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/gpu-check"), help="where the JSON files go")
    parser.add_argument(
        "--models-dir", type=Path, help="where the random-weight models go (default: OUT/models)"
    )
    parser.add_argument(
        "--dry-cpu", action="store_true", help="tiny model on the CPU backend (tests the path)"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        help=f"model shapes to build (default: {' '.join(engine_check.SHAPES)}; dry: tiny)",
    )
    parser.add_argument(
        "--profiles", nargs="+", default=list(engine_check.PROFILES), help="profiles, first builds"
    )
    parser.add_argument("--steady-steps", type=int, default=1, help="steady steps at the first profile")
    parser.add_argument(
        "--attn-implementation",
        help="transformers attention for the engines (default: the recipe's, flash-attn)",
    )
    parser.add_argument("--no-compile", action="store_true", help="switch verl's torch.compile off")
    parser.add_argument(
        "--peak-tflops", type=float, help="the device's dense bf16 peak (default: by GPU name)"
    )
    parser.add_argument("--budget-s", type=float, default=420, help="skip models that would end past this")
    parser.add_argument(
        "--from-records", type=Path, help="re-derive from a run's saved engine-*.json (no measurement)"
    )
    parser.add_argument(
        "--calibration-dir",
        type=Path,
        help=f"where the calibration file goes (default: {CALIBRATION_DIR} on a GPU, --out with --dry-cpu)",
    )
    return parser.parse_args(argv)


def table(records: list[dict]) -> str:
    lines = [
        f"{'model':<20} {'profile':<8} {'phase':<13} {'tok/mb':>7} {'s':>7} {'tok/s':>9} {'TFLOP/s':>8} "
        f"{'peak GB':>8} {'est GB':>7}"
    ]
    for record in records:
        budgets = {(s["profile"], s["phase"]): s["tokens_per_micro_batch"] for s in record["steps"]}
        for profile, summary in record["summary"].items():
            for phase, row in summary["phases"].items():
                measured = f"{row['measured_gb']:.2f}" if row["measured_gb"] is not None else "-"
                lines.append(
                    f"{record['model']:<20} {profile:<8} {phase:<13} {budgets[(profile, phase)] or '-':>7} "
                    f"{row['seconds']:>7.2f} {row['tokens_per_s']:>9.0f} {row['tflops_per_s']:>8.2f} "
                    f"{measured:>8} {row['estimated_gb']:>7.1f}"
                )
    return "\n".join(lines)


def rederive(records_dir: Path, calibration_dir: Path | None, argv: list[str]) -> int:
    """The table and calibration file from a run's saved records; provenance from its own calibration file."""
    paths = sorted(records_dir.glob("engine-*.json"))
    if not paths:
        print(f"gpu-check: no engine-*.json in {records_dir}", file=sys.stderr)
        return 2
    records = [json.loads(p.read_text()) for p in paths]
    for record in records:
        record["summary"] = engine_check.summarise(record)
    env = json.loads((records_dir / "env.json").read_text())
    found = engine_check.calibration_record(
        records, env, shlex.join(["python", "benchmarks/gpu_check.py", *argv])
    )
    if found["device"] != "cuda":
        print(f"gpu-check: {records_dir} was measured on {found['device']}, not a GPU", file=sys.stderr)
        return 2
    original = next(records_dir.glob("calibration/*.yaml"), None)
    if original is not None:
        measured = yaml.safe_load(original.read_text())
        found.update({key: measured[key] for key in ("measured_at", "commit", "dirty", "command")})
        found["derived_by"] = shlex.join(["python", "benchmarks/gpu_check.py", *argv])
    print(table(records))
    path = write((calibration_dir or CALIBRATION_DIR) / f"{slug(found['gpu'])}.yaml", found)
    print(f"calibration ({found['device']}): {path}: {found['constants']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.from_records:
        return rederive(args.from_records, args.calibration_dir, argv if argv is not None else sys.argv[1:])
    device = engine_check.prepare_process(args.dry_cpu)  # before verl is imported
    options = engine_check.CheckOptions(
        out=args.out.resolve(),
        models_dir=(args.models_dir or args.out / "models").resolve(),
        dry_cpu=args.dry_cpu,
        shapes=tuple(args.models or ([engine_check.DRY_SHAPE] if args.dry_cpu else engine_check.SHAPES)),
        profiles=tuple(args.profiles),
        steady_steps=args.steady_steps,
        attn_implementation=args.attn_implementation,
        compile=not args.no_compile,
        peak_tflops=args.peak_tflops,
    )
    options.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    env = engine_check.environment(device)
    (options.out / "env.json").write_text(json.dumps(env, indent=2))
    records, errors = [], {}
    for shape in options.shapes:
        left = args.budget_s - (time.monotonic() - started)
        if not args.dry_cpu and left < EXPECTED_S.get(shape, 120):
            errors[shape] = f"skipped: {left:.0f} s of the {args.budget_s:g} s budget left"
            continue
        try:
            record = engine_check.run_model(
                shape, options, device, lambda line: print(f"[{time.monotonic() - started:6.1f} s] {line}", flush=True),
                REPO_ROOT,
            )  # fmt: skip
        except Exception:  # one model's failure is recorded; the next still runs
            errors[shape] = traceback.format_exc()[-4000:]
            print(f"{shape}: FAILED\n{errors[shape]}", file=sys.stderr, flush=True)
            continue
        records.append(record)
        name = shape.split("/")[-1]
        (options.out / f"engine-{name}.json").write_text(json.dumps({"env": env, **record}, indent=2))
    if errors:
        (options.out / "errors.json").write_text(json.dumps(errors, indent=2))
    if records:
        print(table(records))
        command = shlex.join(
            ["python", "benchmarks/gpu_check.py", *(argv if argv is not None else sys.argv[1:])]
        )
        found = engine_check.calibration_record(records, env, command)
        directory = args.calibration_dir or (options.out if args.dry_cpu else CALIBRATION_DIR)
        path = write(directory / f"{slug(found['gpu'])}.yaml", found)
        print(f"calibration ({found['device']}): {path}: {found['constants']}")
    print(
        f"gpu-check: {len(records)} model(s) measured, {len(errors)} failed or skipped, {time.monotonic() - started:.0f} s"
    )
    return 0 if records and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
