"""Run verl 0.9.1's real GRPO/PPO trainer on CPU: the overrides and environment that select the CPU backend.

Only the device layer and the rollout engine change; Ray, TransferQueue, the agent loop, rewards, advantages,
the FSDP2 actor update, weight sync, checkpoints and logging are all verl's own code. verl imports
`launch.cpu_backend.register` in every one of its processes (its `VERL_USE_EXTERNAL_MODULES` hook), which
registers the `cpu` platform, gloo process groups, FSDP engines for `cpu` and the `hfcpu` rollout
(transformers `generate` in fp32). This module itself stays import-light: it is pure data.

    env $(python -c "from launch.cpu_backend import cpu_env; print(*[f'{k}={v}' for k, v in cpu_env().items()])") \\
        python -m verl.trainer.main_ppo <recipe overrides> <cpu_overrides() as key=value>
"""

from __future__ import annotations

import os

CPU_ROLLOUT_NAME = "hfcpu"
REGISTER_MODULE = "launch.cpu_backend.register"

# Ray logical CPUs: trainer, TransferQueue, agent-loop, reward and rollout actors each hold one; a laptop's
# core count would leave placement groups waiting forever. Logical CPUs are bookkeeping, not threads.
RAY_LOGICAL_CPUS = 16

_FP32 = "fp32"


def _fp32_mixed_precision(fsdp_config_key: str) -> dict[str, object]:
    # fp32 everywhere: bf16 matmuls crash some CPUs (oneDNN AMX, SIGILL) and are slow on the rest.
    return {
        f"+{fsdp_config_key}.mixed_precision.{name}": _FP32
        for name in ("param_dtype", "reduce_dtype", "buffer_dtype")
    }


def cpu_overrides(n_ranks: int = 1) -> dict[str, object]:
    """verl dotted-key overrides for the CPU path, `n_ranks` FSDP2 trainer ranks on one node.

    Keys outside verl's config schema carry Hydra's `+` prefix, so they compose as given.
    """
    if n_ranks < 1:
        raise ValueError(f"n_ranks must be >= 1, got {n_ranks}")
    return {
        "trainer.device": "cpu",
        "trainer.nnodes": 1,
        "trainer.n_gpus_per_node": n_ranks,
        "ray_kwargs.ray_init.num_cpus": RAY_LOGICAL_CPUS,
        # One fake Ray GPU per rank: the CPU platform names "GPU" as its Ray resource, so verl's
        # hard-coded accelerator bundles are satisfied without an accelerator.
        "+ray_kwargs.ray_init.num_gpus": n_ranks,
        # The dashboard is ten processes (~1 GB resident) and seconds of start-up on a laptop.
        "+ray_kwargs.ray_init.include_dashboard": False,
        # The default 8 storage units each want a Ray CPU bundle; one is plenty for a CPU run.
        "transfer_queue.backend.SimpleStorage.num_data_storage_units": 1,
        "actor_rollout_ref.rollout.name": CPU_ROLLOUT_NAME,
        "actor_rollout_ref.rollout.tensor_model_parallel_size": 1,
        "actor_rollout_ref.rollout.agent.num_workers": 1,
        "reward.num_workers": 1,
        "data.dataloader_num_workers": 0,
        # No flash-attention on CPU: sdpa, and no remove-padding (it needs flash-attn varlen kernels).
        "+actor_rollout_ref.model.override_config.attn_implementation": "sdpa",
        "actor_rollout_ref.model.use_remove_padding": False,
        "actor_rollout_ref.model.enable_gradient_checkpointing": False,
        "+critic.model.override_config.attn_implementation": "sdpa",
        "critic.model.use_remove_padding": False,
        "critic.model.enable_gradient_checkpointing": False,
        # FSDP1 cannot wrap CPU modules (it wants an accelerator device id); FSDP2 shards over gloo.
        "actor_rollout_ref.actor.strategy": "fsdp2",
        "critic.strategy": "fsdp2",
        # torch.compile would spend tens of seconds compiling C++ per process for no gain at this size.
        "actor_rollout_ref.actor.use_torch_compile": False,
        "actor_rollout_ref.actor.fsdp_config.use_torch_compile": False,
        "actor_rollout_ref.ref.fsdp_config.use_torch_compile": False,
        "critic.fsdp.use_torch_compile": False,
        **_fp32_mixed_precision("actor_rollout_ref.actor.fsdp_config"),
        **_fp32_mixed_precision("actor_rollout_ref.ref.fsdp_config"),
        **_fp32_mixed_precision("critic.fsdp"),
    }


def cpu_sft_overrides() -> dict[str, object]:
    """The same device choices for verl's SFT trainer (`verl.trainer.sft_trainer`, config sft_trainer_engine).

    It runs under torchrun without Ray or a rollout: only the platform, attention, FSDP2 and fp32 apply.
    """
    return {
        "trainer.device": "cpu",
        "data.num_workers": 0,
        "+model.override_config.attn_implementation": "sdpa",
        "model.use_remove_padding": False,
        "model.enable_gradient_checkpointing": False,
        "engine.strategy": "fsdp2",
        "engine.use_torch_compile": False,
        **_fp32_mixed_precision("engine"),
    }


def cpu_env() -> dict[str, str]:
    """Environment variables the trainer process needs; Ray passes them on to every worker it starts."""
    return {
        "VERL_USE_EXTERNAL_MODULES": REGISTER_MODULE,
        "VERL_PLATFORM": "cpu",
        # Always a fresh single-node Ray holding the fake GPUs: without this, ray.init() joins any cluster a
        # `ray start` left running on the machine, whose resources do not fit and whose jobs it would share.
        "RAY_ADDRESS": "local",
        # Keeps oneDNN off the AMX bf16 path that dies with SIGILL on some CPUs, should anything run in bf16.
        "ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16",
        "TOKENIZERS_PARALLELISM": "false",
        # Ray gives each actor OMP_NUM_THREADS=1 (its CPU share) unless the variable is set: the trainer rank
        # and the rollout server take turns, so each may use every core (measured: an update step 2x faster).
        "OMP_NUM_THREADS": str(os.cpu_count() or 1),
    }
