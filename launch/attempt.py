"""Runs one attempt of a planned run: verl's trainer as a child process, its output tee'd to the run's log.

The attempt gets its own metrics file and, when verl starts its own Ray, its own Ray temp dir; before and
after it, checkpoints beyond the recipe's `max_*_ckpt_to_keep` that earlier attempts left are removed: on exit,
failure, Ctrl-C or timeout every process that still refers to that dir (raylet, GCS, workers, which Ray starts
in sessions of their own) is stopped, so no `ray::` process outlives the run. A timeout names the stage the
run was in. The run doctor (launch/doctor/live.py) checks the metrics as they arrive and prints an alarm the
first time a finding appears; it stops the run only for findings the recipe lists in `doctor.stop_on`.
The same function serves `launch train`, the local sweep, the SLURM job and `make smoke`.

    python -m launch train countdown-3b
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from launch import records, verl_config
from launch.doctor.checks import Finding
from launch.doctor.live import LiveDoctor, alarm_line
from launch.plan import RunPlan
from launch.wandb_env import wandb_settings

Echo = Callable[[str], None]  # where a line of output goes (a CLI's stdout writer); None drops it
_OOM = re.compile(r"CUDA out of memory|OutOfMemoryError|torch\.OutOfMemoryError|Cannot allocate memory")
# Lines verl 0.9.1 prints as a run advances, each with what runs next: a timeout names that stage.
_STAGES = [
    (
        re.compile(r"Started a local Ray instance|Connected to Ray cluster"),
        "the TaskRunner building TransferQueue and the dataset",
    ),
    (re.compile(r"dataloader initialized"), "initialising the actor/ref FSDP engines"),
    (re.compile(r"actor and ref model engine initialized"), "launching the rollout servers"),
    (re.compile(r"LLMServerManager:"), "the checkpoint engine and the first weight sync"),
    (re.compile(r"all initialize finished"), "validation before training, or training step 1"),
    (re.compile(r"step:(\d+) "), "training (last logged step {0})"),
]


@dataclass(frozen=True)
class Segment:
    """The part of a run one attempt trains when the run is trained in parts (launch/ref_reset.py): verl settings
    on top of the plan's, what run.json records of it beside the attempt, and whether the run ends with it (a
    run whose last attempt finished a part that is not the last stays `running`)."""

    overrides: Mapping[str, Any]
    record: Mapping[str, Any]
    last: bool


@dataclass(frozen=True)
class AttemptResult:
    run_id: str
    attempt: int
    exit_code: int | None
    status: str
    reason: str | None
    run_dir: Path


def runtime_env_overrides(trainer_env: Mapping[str, str]) -> dict[str, str]:
    """verl builds its loggers inside the TaskRunner Ray actor, whose environment is the Ray runtime env, not
    the driver's: on a cluster joined through RAY_ADDRESS (Ray jobs, SLURM) nothing is inherited. verl merges
    `ray_kwargs.ray_init.runtime_env` into the env it passes to `ray.init` (trainer/main_ppo.py), so the
    attempt's settings go there, and reach every actor on every node."""
    return {f"+ray_kwargs.ray_init.runtime_env.env_vars.{key}": value for key, value in trainer_env.items()}


CHECKPOINT_TRACKER = "latest_checkpointed_iteration.txt"  # verl's record of its last checkpoint's step


def last_checkpoint_step(checkpoint_dir: Path) -> int | None:
    """The step of the last checkpoint verl saved in `checkpoint_dir` (what it resumes from); None before any."""
    tracker = checkpoint_dir / CHECKPOINT_TRACKER
    return int(tracker.read_text().strip()) if tracker.is_file() else None


def prune_checkpoints(plan: RunPlan, root: Path) -> list[Path]:
    """Removes all but the newest `global_step_N` dirs the recipe keeps; returns what it removed.

    verl keeps its rotation list in memory: each relaunch forgets the checkpoints earlier attempts saved, so
    without this up to `max_*_ckpt_to_keep` old ones per relaunch stay on disk forever. The step the resume
    tracker names is never removed."""
    limits = [plan.overrides.get("trainer.max_actor_ckpt_to_keep")]
    if plan.overrides.get("algorithm.adv_estimator") == "gae":  # a critic saves beside the actor
        limits.append(plan.overrides.get("trainer.max_critic_ckpt_to_keep"))
    if any(limit is None for limit in limits):
        return []  # verl keeps every checkpoint of a role without a limit: so do we
    checkpoint_dir = root / plan.checkpoint_dir
    steps = sorted(
        (int(match.group(1)), path)
        for path in checkpoint_dir.glob("global_step_*")
        if (match := re.fullmatch(r"global_step_(\d+)", path.name)) and path.is_dir()
    )
    latest = last_checkpoint_step(checkpoint_dir)
    removed = []
    for step, path in steps[: max(0, len(steps) - max(limits))]:
        if step != latest:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _stage(line: str, current: str) -> str:
    for pattern, label in _STAGES:
        match = pattern.search(line)
        if match:
            return label.format(*match.groups())
    return current


def stop_processes_using(path: str) -> int:
    """Terminates every process whose command line mentions `path`; returns how many were found."""
    victims = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.pid != os.getpid() and any(path in part for part in proc.info["cmdline"] or []):
                victims.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    for proc in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(victims, timeout=10)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    return len(victims)


class _OutputPump(threading.Thread):
    """Copies the trainer's output to its log (and the console), noting its stage and any OOM."""

    def __init__(self, proc: subprocess.Popen, log_path: Path, echo: Echo | None):
        super().__init__(daemon=True)
        self.proc, self.log_path, self.echo = proc, log_path, echo
        self.stage, self.saw_oom = "starting the driver and Ray", False

    def run(self) -> None:
        with self.log_path.open("w") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                if self.echo:
                    self.echo(line)
                self.stage = _stage(line, self.stage)
                self.saw_oom = self.saw_oom or bool(_OOM.search(line))


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _announce(findings: list[Finding], stop_on, alarm: Echo | None) -> Finding | None:
    """Sends an alarm line per new finding to `alarm`; returns the first one the recipe stops on."""
    for finding in findings:
        if alarm:
            alarm(alarm_line(finding))
    return next((finding for finding in findings if finding.name in stop_on), None)


@dataclass(frozen=True)
class _Launch:
    """One attempt's trainer invocation: its number, command, environment, log and Ray temp dir."""

    attempt: int
    command: list[str]
    env: dict[str, str]
    log_path: Path
    ray_dir: str | None


def _plan_launch(
    plan: RunPlan,
    root: Path,
    run_dir: Path,
    extra_env: Mapping[str, str] | None,
    python: str,
    segment: Segment | None = None,
) -> tuple[_Launch, dict]:
    """The attempt's number, its own metrics file, wandb settings, Ray temp dir and Hydra run dir, and the
    trainer command that carries them; also the wandb record for run.json."""
    base_env = {**os.environ, **plan.env, **(extra_env or {})}
    # verl starts its own Ray unless the run joins a cluster (SLURM and Ray jobs set RAY_ADDRESS to one).
    own_ray = base_env.get("RAY_ADDRESS", "local") in ("", "local")
    ray_dir = tempfile.mkdtemp(prefix="zl-", dir="/tmp") if own_ray else None
    wandb_env, wandb_record = wandb_settings(plan, run_dir, base_env)
    # The number records.start_attempt gives this attempt; the command names its metrics file, so it comes first.
    attempt = len(records.read_run_json(run_dir).get("attempts", [])) + 1
    trainer_env = {
        **{key: base_env[key] for key in [*plan.env, *(extra_env or {})]},
        **wandb_env,
        "VERL_FILE_LOGGER_PATH": str(records.attempt_metrics_path(run_dir, attempt)),
    }
    extra = runtime_env_overrides(trainer_env)
    if ray_dir:  # Ray's own temp dir for this attempt: every process that still refers to it is ours to stop.
        extra["+ray_kwargs.ray_init._temp_dir"] = ray_dir
    # Hydra's run dir beside the run's records, not outputs/<date>/<time>/ in the working directory.
    extra["hydra.run.dir"] = str(run_dir / "hydra" / f"attempt-{attempt}")
    extra.update(segment.overrides if segment else {})
    env = {**base_env, **trainer_env, "PYTHONUNBUFFERED": "1"}
    launch = _Launch(
        attempt, plan.command(root, python, extra), env, run_dir / f"stdout.attempt-{attempt}.log", ray_dir
    )
    return launch, wandb_record


def _start_trainer(launch: _Launch, root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        launch.command,
        cwd=root,
        env=launch.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
        errors="replace",
    )


def _follow(
    proc: subprocess.Popen,
    output: _OutputPump,
    doctor: LiveDoctor,
    plan: RunPlan,
    timeout_s: float | None,
    alarm: Echo | None,
) -> tuple[int | None, str, str | None]:
    """Waits for the trainer, stopping it on a timeout or a finding the recipe stops on; (exit code, status,
    reason)."""
    deadline = time.monotonic() + timeout_s if timeout_s else None
    # Follow the trainer process itself, not its stdout: daemons it started may hold the pipe open.
    while (exit_code := proc.poll()) is None:
        if deadline and time.monotonic() > deadline:
            _kill_group(proc)
            return proc.returncode, "failed", f"timed out after {timeout_s:.0f} s while {output.stage}"
        if stop := _announce(doctor.poll(time.monotonic()), plan.recipe.doctor.stop_on, alarm):
            _kill_group(proc)
            return proc.returncode, "stopped", f"doctor stop_on: {stop.line()}"
        time.sleep(0.5)
    if exit_code == 0:
        return exit_code, "finished", None
    output.join(timeout=5)  # the trainer's last lines (an OOM message) may still be in the pipe
    if output.saw_oom:
        return exit_code, "oom", "out of memory (see the log)"
    return exit_code, "failed", f"exit code {exit_code} while {output.stage}"


def _clean_up(
    proc: subprocess.Popen, launch: _Launch, output: _OutputPump, plan: RunPlan, root: Path
) -> None:
    """Whatever happened: no trainer process group, no process left in the attempt's Ray dir, the output
    drained, and the checkpoints beyond the recipe's limits removed."""
    if proc.poll() is None:
        _kill_group(proc)
    if launch.ray_dir:
        stop_processes_using(launch.ray_dir)
        shutil.rmtree(launch.ray_dir, ignore_errors=True)
    output.join(timeout=30)
    prune_checkpoints(plan, root)


def run_attempt(
    plan: RunPlan,
    root: Path,
    device: str = "cuda",
    extra_env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    python: str = sys.executable,
    echo: Echo | None = None,
    config=None,
    alarm: Echo | None = None,
    segment: Segment | None = None,
) -> AttemptResult:
    """One attempt, start to records. `config`: the verl config validation composed for this run (paths
    resolved under `root`), written as config.yaml; composed here when not given. The trainer's output goes
    to its log and, line by line, to `echo`; the live doctor's alarm lines go to `alarm` (and run.json).
    `segment`: the part of the run this attempt trains (launch/ref_reset.py); config.yaml stays the plan's."""
    run_dir = root / plan.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    prune_checkpoints(
        plan, root
    )  # what an earlier attempt left behind (it may have died before its own prune)
    launch, wandb_record = _plan_launch(plan, root, run_dir, extra_env, python, segment)
    records.start_attempt(
        plan, root, launch.command, device, wandb_record, dict(segment.record) if segment else None
    )
    if config is None:
        config = verl_config.compose(plan.resolved_overrides(root))
    records.write_resolved_config(run_dir, config, root)
    doctor = LiveDoctor(run_dir, plan.recipe.doctor)
    proc = _start_trainer(launch, root)
    output = _OutputPump(proc, launch.log_path, echo)
    output.start()
    exit_code, status, reason = None, "failed", None
    try:
        exit_code, status, reason = _follow(proc, output, doctor, plan, timeout_s, alarm)
    except KeyboardInterrupt:
        _kill_group(proc)
        exit_code, status, reason = proc.returncode, "killed", f"interrupted while {output.stage}"
        raise
    finally:
        _clean_up(proc, launch, output, plan, root)
        records.finish_attempt(
            plan, root, launch.attempt, exit_code, status, reason, final=segment is None or segment.last
        )
        # After the attempt: what only its end shows (no-progress), and the findings kept in run.json.
        _announce(doctor.final_check(), (), alarm)
    return AttemptResult(plan.run_id, launch.attempt, exit_code, status, reason, run_dir)
