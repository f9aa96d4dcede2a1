"""The CPU backend runs verl 0.9.1's real trainer: GRPO steps, weight sync, checkpoints and resume on CPU.

The end-to-end tests start `python -m verl.trainer.main_ppo` as a subprocess with a tiny local model and a
dense test-only reward, and always stop every process that run started (Ray included), even on timeout.

    python -m pytest tests/launch/cpu_backend/test_cpu_backend.py -q
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from launch.cpu_backend import CPU_ROLLOUT_NAME, cpu_env, cpu_overrides

DENSE_REWARD = Path(__file__).with_name("dense_reward.py")
RUN_TIMEOUT_S = 300  # a run takes 50-90 s on 2 busy cores; the bound only turns a hang into a failure
MEMORY_LIMIT_BYTES = 6 * 2**30

# Log lines verl prints as a run advances, each paired with what runs next: a hang is reported by the stage
# after the last line seen.
STAGES = (
    (None, "starting the driver and Ray"),
    ("Started a local Ray instance", "the TaskRunner starting TransferQueue and building the dataset"),
    ("dataloader initialized", "initialising the actor/ref FSDP2 engines"),
    ("actor and ref model engine initialized", "launching the hfcpu rollout server"),
    ("LLMServerManager:", "the checkpoint engine and the initial weight sync"),
    ("all initialize finished", "training step 1 (rollout, reward, old/ref log-probs, update)"),
    ("step:1 ", "training step 2"),
    ("step:2 ", "finishing (checkpoint, logger, Ray shutdown)"),
)


# ---------------------------------------------------------------------------------------------- fast tests


def test_cpu_overrides_compose_against_verl_schema(tiny_model_dir):
    import verl
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    overrides = cpu_overrides(n_ranks=2)
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        base = compose("ppo_trainer")
        composed = compose("ppo_trainer", [f"{k}={v}" for k, v in overrides.items()])
    for key, value in overrides.items():
        plain_key = key.removeprefix("+")
        # A `+` is right exactly when verl's schema lacks the key (Hydra refuses `+` on an existing key).
        parent_key, _, leaf = plain_key.rpartition(".")
        parent = OmegaConf.select(base, parent_key)
        # `in` on a DictConfig is False for a mandatory '???' value (rollout.name); its key list is not.
        in_schema = parent is not None and leaf in list(parent)
        assert in_schema != key.startswith("+"), f"{key}: the '+' prefix does not match verl's schema"
        assert OmegaConf.select(composed, plain_key) == value, key
    assert composed.actor_rollout_ref.rollout.name == CPU_ROLLOUT_NAME
    assert composed.ray_kwargs.ray_init.num_gpus == composed.trainer.n_gpus_per_node == 2


def test_cpu_overrides_rejects_zero_ranks():
    with pytest.raises(ValueError, match="n_ranks"):
        cpu_overrides(0)


def test_verl_loads_the_backend_in_a_fresh_process_from_the_installed_package():
    """What every Ray worker does: `import verl` with cpu_env() set, from a directory outside the repo."""
    probe = """
import json, torch, verl
from verl.utils.device import get_device_name, get_nccl_backend, get_torch_device, get_resource_name
from verl.utils.distributed import initialize_global_process_group_ray
from verl.workers.engine import EngineRegistry
from verl.workers.rollout.base import get_rollout_class
from verl.workers.rollout.replica import get_rollout_replica_class
initialize_global_process_group_ray()
device = get_torch_device()
free, total = device.mem_get_info()
state = device.get_rng_state(); a = torch.rand(1); device.set_rng_state(state)
print(json.dumps({
    "device": get_device_name(), "backend": torch.distributed.get_backend(), "collective": get_nccl_backend(),
    "ray_resource": get_resource_name(), "to_device": str(torch.ones(1).to(device.current_device()).device),
    "memory_ok": 0 < free <= total, "rng_ok": bool(torch.equal(a, torch.rand(1))),
    "engine": EngineRegistry.get_engine_cls("language_model", "fsdp2").__name__,
    "adapter": get_rollout_class("hfcpu").__module__, "replica": get_rollout_replica_class("hfcpu").__name__,
}))
"""
    env = {**os.environ, **cpu_env(), "RANK": "0", "WORLD_SIZE": "1"}
    env.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())})
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd="/", env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "device": "cpu",
        "backend": "gloo",
        "collective": "gloo",
        "ray_resource": "GPU",
        "to_device": "cpu",
        "memory_ok": True,
        "rng_ok": True,
        "engine": "FSDPEngineWithLMHead",
        "adapter": "launch.cpu_backend.adapter",
        "replica": "HFCPUReplica",
    }


def _rollout_config(**overrides):
    defaults = {"max_model_len": None, "prompt_length": 64, "response_length": 12, "seed": 0}
    return SimpleNamespace(**{**defaults, **overrides})


def test_server_log_probs_are_the_models_temperature_scaled_log_probs(tiny_model_dir):
    import torch

    from launch.cpu_backend.server import HFCPUServer

    server = HFCPUServer(_rollout_config(), {"path": str(tiny_model_dir)})
    prompt = [5, 17, 42, 99, 7]
    params = {"temperature": 0.7, "top_p": 1.0, "top_k": -1, "logprobs": True, "repetition_penalty": 1.0}
    output = asyncio.run(server.generate(prompt_ids=prompt, sampling_params=params, request_id="r1"))
    assert 1 <= len(output.token_ids) <= 12 and len(output.log_probs) == len(output.token_ids)
    assert output.stop_reason == "completed" and "global_steps" in output.extra_fields

    with torch.no_grad():
        logits = server.model(torch.tensor([prompt + output.token_ids])).logits[0, len(prompt) - 1 : -1]
    expected = torch.log_softmax(logits / 0.7, dim=-1).gather(1, torch.tensor(output.token_ids)[:, None])[
        :, 0
    ]
    assert torch.allclose(torch.tensor(output.log_probs), expected, atol=1e-4)


def test_server_greedy_is_argmax_and_honours_max_tokens(tiny_model_dir):
    import torch

    from launch.cpu_backend.server import HFCPUServer

    server = HFCPUServer(_rollout_config(), {"path": str(tiny_model_dir)})
    prompt = [3, 1, 4, 1, 5]
    params = {
        "temperature": 0,
        "top_p": 1.0,
        "top_k": -1,
        "logprobs": False,
        "ignore_eos": True,
        "max_tokens": 6,
    }
    output = asyncio.run(server.generate(prompt_ids=prompt, sampling_params=params, request_id="r2"))
    assert len(output.token_ids) == 6 and output.log_probs is None
    with torch.no_grad():
        first = server.model(torch.tensor([prompt])).logits[0, -1].argmax().item()
    assert output.token_ids[0] == first


def test_server_batches_concurrent_requests_with_the_same_results(tiny_model_dir):
    from launch.cpu_backend.server import HFCPUServer

    prompts = [[5, 17, 42], [3, 1, 4, 1, 5, 9, 2, 6], [7], [8, 8, 8, 8]]
    params = {"temperature": 0, "top_p": 1.0, "top_k": -1, "logprobs": True, "ignore_eos": True}
    budgets = [3, 9, 5, 1]

    async def together(server):
        calls = [
            server.generate(prompt_ids=p, sampling_params={**params, "max_tokens": n}, request_id=f"r{i}")
            for i, (p, n) in enumerate(zip(prompts, budgets, strict=True))
        ]
        return await asyncio.gather(*calls)

    server = HFCPUServer(_rollout_config(), {"path": str(tiny_model_dir)})
    batched = asyncio.run(together(server))
    assert server.batch_sizes == [len(prompts)]
    for prompt, budget, output in zip(prompts, budgets, batched, strict=True):
        alone = asyncio.run(
            server.generate(
                prompt_ids=prompt, sampling_params={**params, "max_tokens": budget}, request_id="a"
            )
        )
        assert output.token_ids == alone.token_ids and len(output.token_ids) == budget
        assert output.log_probs == pytest.approx(alone.log_probs, abs=1e-4)
    assert server.batch_sizes == [len(prompts), 1, 1, 1, 1]


def test_server_refuses_what_it_cannot_honour(tiny_model_dir):
    from launch.cpu_backend.server import HFCPUServer

    server = HFCPUServer(_rollout_config(), {"path": str(tiny_model_dir)})
    with pytest.raises(ValueError, match="repetition_penalty"):
        asyncio.run(
            server.generate(prompt_ids=[1, 2], sampling_params={"repetition_penalty": 1.2}, request_id="x")
        )
    with pytest.raises(ValueError, match="no room"):
        asyncio.run(server.generate(prompt_ids=[1] * 76, sampling_params={}, request_id="y"))


def test_server_loads_trainer_weights_and_refuses_foreign_names(tiny_model_dir):
    import torch

    from launch.cpu_backend.server import HFCPUServer

    server = HFCPUServer(_rollout_config(), {"path": str(tiny_model_dir)})
    weights = {name: torch.zeros_like(tensor) for name, tensor in server.model.state_dict().items()}
    assert asyncio.run(server.load_weights(weights, global_steps=3)) == len(weights)
    assert all(float(tensor.abs().sum()) == 0 for tensor in server.model.state_dict().values())
    assert server.global_steps == 3
    with pytest.raises(ValueError, match="do not match"):
        asyncio.run(server.load_weights({"not.a.weight": torch.zeros(1)}))


# ------------------------------------------------------------------------------------ end-to-end trainer


@dataclass
class TrainerRun:
    returncode: int | None  # None: killed at the timeout
    wall_s: float
    peak_pss_bytes: int
    log: str
    metrics: list[dict]

    def stage(self) -> str:
        """What the run was doing when it stopped: the stage after the last progress line it printed."""
        reached = 0
        for index, (marker, _) in enumerate(STAGES):
            if marker is not None and marker in self.log:
                reached = index
        return STAGES[reached][1]

    def explain(self) -> str:
        status = "timed out" if self.returncode is None else f"exited {self.returncode}"
        tail = "\n".join(line for line in self.log.splitlines() if "UserWarning" not in line)[-4000:]
        return (
            f"verl trainer {status} after {self.wall_s:.0f}s while {self.stage()}\n--- log tail ---\n{tail}"
        )

    def metric(self, step: int, name: str) -> float:
        row = next(row for row in self.metrics if row["step"] == step)
        return row["data"][name]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pss(process: psutil.Process) -> int:
    try:
        return process.memory_full_info().pss
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return 0


def _stop_all(driver: subprocess.Popen, started: dict[int, psutil.Process]) -> None:
    """Stop the driver's process group, then every process it started (Ray puts workers in groups of their
    own); psutil refuses to signal a pid reused by another process, so nothing else is touched."""
    if driver.poll() is None:
        os.killpg(driver.pid, signal.SIGTERM)
        try:
            driver.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait(timeout=15)
    alive = [process for process in started.values() if process.is_running()]
    _, alive = psutil.wait_procs(alive, timeout=10)  # Ray's own shutdown usually gets there first
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(alive, timeout=5)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def run_verl_trainer(overrides: dict[str, object], workdir: Path, metrics_path: Path) -> TrainerRun:
    """Run `python -m verl.trainer.main_ppo` on the CPU backend; measure wall time and peak PSS of the tree."""
    env = {**os.environ, **cpu_env(), "VERL_FILE_LOGGER_PATH": str(metrics_path), "HYDRA_FULL_ERROR": "1"}
    command = [sys.executable, "-m", "verl.trainer.main_ppo", *[f"{k}={v}" for k, v in overrides.items()]]
    log_path = workdir / f"{metrics_path.stem}.log"
    started: dict[int, psutil.Process] = {}
    peak = 0
    begin = time.monotonic()
    with open(log_path, "w") as log:
        driver = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            root = psutil.Process(driver.pid)
            while driver.poll() is None and time.monotonic() - begin < RUN_TIMEOUT_S:
                with contextlib.suppress(psutil.NoSuchProcess):
                    started.update((child.pid, child) for child in root.children(recursive=True))
                peak = max(peak, _pss(root) + sum(_pss(process) for process in started.values()))
                time.sleep(1.0)
            returncode = driver.poll()
        finally:
            _stop_all(driver, started)
    wall = time.monotonic() - begin
    metrics = (
        [json.loads(line) for line in metrics_path.read_text().splitlines()] if metrics_path.exists() else []
    )
    return TrainerRun(returncode, wall, peak, log_path.read_text(errors="replace"), metrics)


@pytest.fixture(scope="module")
def countdown_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("countdown") / "data"
    command = [sys.executable, "-m", "data_prep", "countdown", "--out", str(out), "--template", "instruct"]
    subprocess.run([*command, "--train-size", "64", "--test-size", "16"], check=True, capture_output=True)
    return out


def grpo_overrides(
    model_dir: Path, data_dir: Path, checkpoint_dir: Path, total_steps: int
) -> dict[str, object]:
    """GRPO as in R1 (KL loss to the reference), shrunk to 4 prompts x 2 samples x 48 tokens."""
    return {
        "algorithm.adv_estimator": "grpo",
        "algorithm.use_kl_in_reward": False,
        "data.train_files": str(data_dir / "train.parquet"),
        "data.val_files": str(data_dir / "test.parquet"),
        "data.train_batch_size": 4,
        "data.max_prompt_length": 256,
        "data.max_response_length": 48,
        "actor_rollout_ref.model.path": str(model_dir),
        "actor_rollout_ref.actor.ppo_mini_batch_size": 4,
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": 4,
        # Large enough that one update moves the rollout's log-probs by ~1e-3 unless the weights are synced.
        "actor_rollout_ref.actor.optim.lr": 1e-3,
        "actor_rollout_ref.actor.use_kl_loss": True,
        "actor_rollout_ref.actor.kl_loss_coef": 0.001,
        "actor_rollout_ref.actor.kl_loss_type": "low_var_kl",
        "actor_rollout_ref.rollout.n": 2,
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu": 8,
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": 8,
        "reward.custom_reward_function.path": str(DENSE_REWARD),
        "reward.custom_reward_function.name": "compute_score",
        "trainer.logger": "[console,file]",
        "trainer.project_name": "zerolab_tests",
        "trainer.experiment_name": "cpu_backend",
        "trainer.total_training_steps": total_steps,
        "trainer.val_before_train": False,
        "trainer.test_freq": -1,
        "trainer.save_freq": 1,
        "trainer.default_local_dir": str(checkpoint_dir),
        "trainer.resume_mode": "auto",
        **cpu_overrides(n_ranks=1),
    }


@pytest.fixture(scope="module")
def grpo_run(tiny_model_dir, countdown_dir, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("grpo_run")
    overrides = grpo_overrides(tiny_model_dir, countdown_dir, workdir / "checkpoints", total_steps=2)
    run = run_verl_trainer(overrides, workdir, workdir / "attempt1.jsonl")
    print(f"\nCPU GRPO run: {run.wall_s:.1f} s wall, peak PSS {run.peak_pss_bytes / 2**30:.2f} GiB")
    return workdir, overrides, run


@pytest.mark.slow
def test_grpo_trains_two_steps_on_cpu_with_synced_rollout_weights(grpo_run):
    workdir, _, run = grpo_run
    assert run.returncode == 0, run.explain()
    assert [row["step"] for row in run.metrics] == [1, 2], run.explain()
    for step in (1, 2):
        for name in ("critic/score/mean", "response_length/mean", "actor/pg_loss", "actor/kl_loss"):
            assert math.isfinite(run.metric(step, name)), (step, name)
        assert run.metric(step, "actor/grad_norm") > 0, "the dense reward should give non-zero advantages"
        assert run.metric(step, "critic/advantages/max") > 0
        # Step 2 samples with the weights updated at step 1: only a working weight sync keeps the rollout's
        # log-probs equal to the actor's (a run with the sync disabled measured ~1e-3 here).
        assert run.metric(step, "training/rollout_probs_diff_max") < 1e-6, step
    assert run.peak_pss_bytes < MEMORY_LIMIT_BYTES
    checkpoints = workdir / "checkpoints"
    assert (checkpoints / "latest_checkpointed_iteration.txt").read_text().strip() == "2"
    assert (checkpoints / "global_step_2" / "actor").is_dir()


@pytest.mark.slow
def test_a_second_invocation_resumes_from_the_latest_checkpoint(grpo_run):
    workdir, overrides, first = grpo_run
    assert first.returncode == 0, first.explain()
    run = run_verl_trainer(
        {**overrides, "trainer.total_training_steps": 3}, workdir, workdir / "attempt2.jsonl"
    )
    print(f"\nCPU GRPO resume: {run.wall_s:.1f} s wall, peak PSS {run.peak_pss_bytes / 2**30:.2f} GiB")
    assert run.returncode == 0, run.explain()
    assert f"Resuming from {workdir / 'checkpoints' / 'global_step_2'}" in run.log
    assert [row["step"] for row in run.metrics] == [3], "a resumed run must continue, not start over"
    assert run.metric(3, "training/rollout_probs_diff_max") < 1e-6, "resumed weights must reach the rollout"
    assert (workdir / "checkpoints" / "latest_checkpointed_iteration.txt").read_text().strip() == "3"


@pytest.mark.slow
def test_ppo_with_a_critic_trains_on_cpu(tiny_model_dir, countdown_dir, tmp_path):
    overrides = grpo_overrides(tiny_model_dir, countdown_dir, tmp_path / "checkpoints", total_steps=2)
    overrides.update(
        {
            "algorithm.adv_estimator": "gae",
            "actor_rollout_ref.actor.use_kl_loss": False,
            "actor_rollout_ref.rollout.n": 1,
            "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu": 4,
            "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": 4,
            "critic.model.path": str(tiny_model_dir),
            "critic.ppo_micro_batch_size_per_gpu": 4,
            "trainer.save_freq": -1,
        }
    )
    run = run_verl_trainer(overrides, tmp_path, tmp_path / "ppo.jsonl")
    print(f"\nCPU PPO run: {run.wall_s:.1f} s wall, peak PSS {run.peak_pss_bytes / 2**30:.2f} GiB")
    assert run.returncode == 0, run.explain()
    assert [row["step"] for row in run.metrics] == [1, 2], run.explain()
    for step in (1, 2):
        assert run.metric(step, "critic/grad_norm") > 0 and run.metric(step, "actor/grad_norm") > 0
        assert math.isfinite(run.metric(step, "critic/vf_loss"))
    assert run.peak_pss_bytes < MEMORY_LIMIT_BYTES
