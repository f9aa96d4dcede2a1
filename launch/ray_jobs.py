"""Submits runs as Ray jobs to an existing (multi-node) Ray cluster and reads their status back.

Each job ships this repo as its working dir (so `rewards/verl_reward.py` imports on every node), minus the
environment, data and outputs, and runs the run's attempt on the cluster. The job runs in a temporary copy
of the repo, so the data, checkpoint and results dirs must be absolute paths on storage every node shares:
relative ones would point into that copy (no data; checkpoints lost, so a relaunch starts over). The job runs
the environment's own interpreter by absolute path (`--python`, default: the one running the sweep), so the
repo's `.venv` must sit at that path on the head node too (shared storage, as the dirs). Start the
cluster by hand: `ray start --head --dashboard-host=0.0.0.0` on one node (the dashboard listens on localhost
only otherwise), `ray start --address=HEAD_IP:6379` on the others; the address to pass here is the head's
dashboard, `http://HEAD_IP:8265`.

    python -m launch sweep countdown-ablations --launcher ray --address http://HEAD_IP:8265 \
        --data-dir /shared/zerolab/data --checkpoints-dir /shared/zerolab/checkpoints --results-dir /shared/zerolab/results
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from launch.plan import RunPlan

# Not shipped with a job: environments, built data, checkpoints, and run outputs.
WORKING_DIR_EXCLUDES = [
    ".venv/",
    ".git/",
    "data/",
    "models/",
    "checkpoints/",
    "outputs/",
    "results/",
    "wandb/",
    "**/__pycache__/",
]


def check_shared_dirs(plan: RunPlan) -> None:
    """Raises ValueError naming each dir a job would resolve inside its temporary copy of the repo."""
    dirs = [
        ("--data-dir", "DATA_DIR", plan.data_dir),
        ("--checkpoints-dir", "CKPT_DIR", plan.checkpoints_root),
        ("--results-dir", "RESULTS_DIR", plan.results_root),
    ]
    relative = [
        f"{flag} {value} (make sweep {var}=/shared/...)"
        for flag, var, value in dirs
        if not Path(value).is_absolute()
    ]
    if relative:
        raise ValueError(
            "a Ray job runs in a temporary copy of the repo without data/, and whatever it writes there is lost: "
            f"give absolute paths on storage every node shares for {'; '.join(relative)}"
        )


def submit_jobs(
    plans: Sequence[RunPlan],
    address: str,
    root: Path,
    entrypoint: Sequence[str] | None = None,
    python: str = sys.executable,
) -> dict[str, str]:
    """Submits one job per run (or `entrypoint` instead of the attempt, for tests); returns run id -> job id."""
    from ray.job_submission import JobSubmissionClient

    for plan in plans:
        check_shared_dirs(plan)
    client = JobSubmissionClient(address)
    submitted = {}
    for plan in plans:
        command = list(entrypoint) if entrypoint else plan.attempt_command(python)
        job_id = client.submit_job(
            entrypoint=" ".join(shlex.quote(arg) for arg in command),
            # No env_vars: the attempt passes the run's environment to verl's ray.init itself
            # (launch.attempt.runtime_env_overrides), and Ray refuses a key set by both the job and ray.init.
            runtime_env={"working_dir": str(root), "excludes": WORKING_DIR_EXCLUDES},
            metadata={"zerolab_run_id": plan.run_id, "zerolab_recipe": plan.recipe.name},
        )
        submitted[plan.run_id] = job_id
        record = root / plan.run_dir / "ray_job.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(
            json.dumps({"address": address, "job_id": job_id, "entrypoint": command}, indent=2) + "\n"
        )
    return submitted


def job_status(address: str, job_id: str) -> str:
    """Ray's status of a job: PENDING, RUNNING, SUCCEEDED, FAILED or STOPPED."""
    from ray.job_submission import JobSubmissionClient

    return str(JobSubmissionClient(address).get_job_status(job_id).value)


def job_logs(address: str, job_id: str) -> str:
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(address).get_job_logs(job_id)
