"""Writes (and submits) one sbatch script per run: a Ray head and workers started with `srun` across the
allocated nodes, then the run's attempt on the head node, which records it exactly as a local run does.

The node and GPU counts come from the run's hardware profile (`trainer.nnodes`, `trainer.n_gpus_per_node`).
The repo must sit on a filesystem every node sees (the reward file and data are read on each node).

    python -m launch sweep countdown-ablations --launcher slurm [--dry-run]
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from launch.plan import RunPlan

RAY_PORT = 6379
# Seconds for `ray start` to come up on a node before the next step relies on it.
RAY_START_WAIT_S = 20
# Many clusters default to a short time limit that would end a run mid-training: ask for one explicitly.
DEFAULT_TIME_LIMIT = "48:00:00"
# Ray's workers, vLLM's engine and verl's data loaders all want cores; 8 per GPU is what common GPU nodes have.
DEFAULT_CPUS_PER_GPU = 8


def render_sbatch(
    plan: RunPlan,
    root: Path,
    python: str,
    partition: str | None = None,
    time_limit: str | None = None,
    cpus_per_task: int | None = None,
    mem: str = "0",
) -> str:
    nodes = int(plan.overrides.get("trainer.nnodes", 1))
    gpus = int(plan.overrides.get("trainer.n_gpus_per_node", 1))
    run_dir = root / plan.run_dir
    directives = [
        f"--job-name={plan.run_id}",
        f"--nodes={nodes}",
        "--ntasks-per-node=1",
        f"--gpus-per-node={gpus}",
        f"--cpus-per-task={cpus_per_task or DEFAULT_CPUS_PER_GPU * gpus}",
        # 0: all of each node's memory (the job holds the nodes exclusively anyway).
        f"--mem={mem}",
        f"--time={time_limit or DEFAULT_TIME_LIMIT}",
        "--exclusive",
        f"--output={run_dir}/slurm-%j.log",
        *([f"--partition={partition}"] if partition else []),
    ]
    attempt = plan.attempt_command(python)
    # The environment's own Ray CLI, run by its interpreter: a bare `ray` may be missing or another install.
    ray = f"{shlex.quote(python)} -m ray.scripts.scripts"
    lines = [
        "#!/usr/bin/env bash",
        f"# ZeroLab run {plan.run_id} (recipe {plan.recipe.name}); written by `python -m launch sweep --launcher slurm`.",
        *(f"#SBATCH {d}" for d in directives),
        "set -euo pipefail",
        f"cd {shlex.quote(str(root))}",
        f"{shlex.quote(python)} -c 'import vllm' || {{ echo 'zerolab: {python} has no vLLM: build the GPU "
        "environment for the compute nodes (make install GPU=1 on a login node)' >&2; exit 1; }",
        'mapfile -t nodes < <(scontrol show hostnames "$SLURM_JOB_NODELIST")',
        "head_node=${nodes[0]}",
        "head_ip=$(srun --nodes=1 --ntasks=1 -w \"$head_node\" hostname --ip-address | awk '{print $1}')",
        f'export RAY_ADDRESS="$head_ip:{RAY_PORT}"',
        "cleanup() {",
        # --overlap: the Ray steps below hold the nodes until the time limit; without it this step waits behind them.
        f'    srun --overlap --nodes="$SLURM_JOB_NUM_NODES" --ntasks-per-node=1 {ray} stop --force >/dev/null 2>&1 || true',
        "}",
        "trap cleanup EXIT",
        f'srun --nodes=1 --ntasks=1 -w "$head_node" {ray} start --head --node-ip-address="$head_ip" --port={RAY_PORT} '
        f'--num-cpus="$SLURM_CPUS_PER_TASK" --num-gpus={gpus} --block &',
        f"sleep {RAY_START_WAIT_S}",
        'for node in "${nodes[@]:1}"; do',
        f'    srun --nodes=1 --ntasks=1 -w "$node" {ray} start --address="$RAY_ADDRESS" '
        f'--num-cpus="$SLURM_CPUS_PER_TASK" --num-gpus={gpus} --block &',
        "done",
        f"sleep {RAY_START_WAIT_S}",
        # The attempt builds missing data (python -m data_prep --if-missing) before the trainer starts.
        " ".join(shlex.quote(arg) for arg in attempt),
        "",
    ]
    return "\n".join(lines)


def write_sbatch(plan: RunPlan, root: Path, python: str, **kwargs) -> Path:
    run_dir = root / plan.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "job.sbatch"
    path.write_text(render_sbatch(plan, root, python, **kwargs))
    return path


def submit(script: Path) -> str:
    """`sbatch` the script; returns SLURM's job id."""
    try:
        result = subprocess.run(
            ["sbatch", "--parsable", str(script)], capture_output=True, text=True, check=True
        )
    except FileNotFoundError:
        raise RuntimeError(
            "sbatch is not on PATH: run this on a SLURM login node (or use --dry-run)"
        ) from None
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"sbatch rejected {script}: {error.stderr.strip()}") from None
    return result.stdout.strip().split(";")[0]
