"""Pre-flight for a GPU run, before anything heavy starts: GPUs, data, model, disk.

Enough NVIDIA GPUs for the run's hardware profile, each with the memory the run's estimate needs; the data files (built with `python -m data_prep` when
missing); the model as a local dir, in the Hugging Face cache or reachable on the hub; free disk for the
checkpoints the run keeps. Each failure says what is missing and how to fix it.

    python -m launch train countdown-3b
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from data_prep.tasks import build_command
from launch.estimate import checkpoint_bytes
from launch.hardware import detect_gpus
from launch.plan import RunPlan
from launch.validate import RunInvalid, check_data, check_memory
from launch.verl_config import is_available_offline

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*[bB]\b|(\d+(?:\.\d+)?)[bB](?:-|$)")


class PreflightError(RuntimeError):
    """The run cannot start on this machine; the message says why and what to do."""


def gpu_count() -> int:
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))


def check_gpus(plan: RunPlan) -> int:
    wanted = int(plan.overrides.get("trainer.n_gpus_per_node", 1))
    found = gpu_count()
    if found == 0:
        raise PreflightError(
            "no NVIDIA GPU on this machine (nvidia-smi lists none); on CPU run `make smoke` instead"
        )
    if found < wanted:
        raise PreflightError(
            f"{plan.run_id}: profile {plan.profile.name!r} wants {wanted} GPUs per node, this node has {found}; "
            f"choose a profile sized for {found} (recipes/profiles/) or use a bigger node"
        )
    return found


def ensure_data(plan: RunPlan, root: Path) -> None:
    for task in dict.fromkeys([plan.task, *plan.val_tasks]):
        command = [*build_command(task, plan.template, plan.data_dir), "--if-missing"]
        if subprocess.run(command, cwd=root).returncode != 0:
            raise PreflightError(f"{plan.run_id}: building the {task} data failed: {' '.join(command[1:])}")
    check_data(plan, root)


def check_model(model: str) -> None:
    if is_available_offline(model):
        return
    from huggingface_hub import model_info

    try:
        model_info(model, timeout=20)
    except Exception as error:  # any hub failure means the same thing: the trainer could not load it either
        raise PreflightError(
            f"model {model!r} is neither a local directory nor in the Hugging Face cache, and the hub did not "
            f"answer ({type(error).__name__}); download it first (huggingface-cli download {model}) or give a path"
        ) from None


def parameter_billions(model: str) -> float | None:
    match = _SIZE.search(Path(model).name)
    return float(match.group(1) or match.group(2)) if match else None


def check_disk(plan: RunPlan, root: Path) -> None:
    billions = parameter_billions(plan.model)
    if billions is None:
        return
    needed = checkpoint_bytes(plan, billions)
    target = root / plan.checkpoint_dir
    existing = next(p for p in [target, *target.parents] if p.exists())
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise PreflightError(
            f"{plan.run_id}: the checkpoints it keeps (actor, and critic if any) of a {billions:g}B model need "
            f"about {needed / 1e9:.0f} GB, {free / 1e9:.0f} GB free under {existing}; free space or lower "
            "trainer.max_actor_ckpt_to_keep / trainer.max_critic_ckpt_to_keep"
        )


def check_gpu_memory(plan: RunPlan) -> None:
    """The estimate against this node's smallest GPU, as nvidia-smi reports it (validation used the profile's)."""
    gpus = detect_gpus()
    if gpus:
        try:
            check_memory(plan, min(gpu.memory_gb for gpu in gpus))
        except RunInvalid as error:
            raise PreflightError(str(error)) from None


def preflight(plan: RunPlan, root: Path) -> None:
    check_gpus(plan)
    check_gpu_memory(plan)
    ensure_data(plan, root)
    check_model(plan.model)
    check_disk(plan, root)
