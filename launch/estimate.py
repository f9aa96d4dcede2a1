"""Memory arithmetic for a planned run: the training state each GPU holds at the actor and critic updates,
and the checkpoint disk the run keeps. Arithmetic from parameter counts, not yet calibrated on a GPU:
activations, vLLM's own pool and fragmentation come on top.

verl's FSDP engines keep fp32 master weights (4 bytes per parameter) and AdamW's two fp32 moments (8 bytes);
gradients (4 bytes) exist during an update. An engine moves to the CPU only what `param_offload` /
`optimizer_offload` name, and loads it back for its own update (workers/engine/fsdp/transformer_impl.py);
the reference model holds bf16 weights (2 bytes) unless offloaded. FSDP shards all of it over the GPUs.

    python -m pytest tests/launch/test_estimate.py      (the pre-flight disk check uses checkpoint_bytes)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from launch.plan import RunPlan

# Parameter counts of the models the shipped recipes use (from each model's config: tied embeddings counted once).
PARAMETERS = {
    "Qwen/Qwen2.5-0.5B": 494_032_768,
    "Qwen/Qwen2.5-1.5B": 1_543_714_304,
    "Qwen/Qwen2.5-Math-1.5B": 1_543_714_304,
    "Qwen/Qwen2.5-3B": 3_085_938_688,
    "Qwen/Qwen2.5-3B-Instruct": 3_085_938_688,
    "Qwen/Qwen2.5-7B": 7_615_616_512,
}
WEIGHT_BYTES = 4  # fp32 master weights
GRAD_BYTES = 4
ADAM_BYTES = 8  # two fp32 moments
REF_WEIGHT_BYTES = 2  # bf16, never updated
# A saved FSDP checkpoint: fp32 weights + Adam moments, plus the extra state, rounded up.
CHECKPOINT_BYTES_PER_PARAM = 16
GB = 1e9


def has_critic(overrides: Mapping[str, Any]) -> bool:
    """verl's need_critic: GAE needs a value model (critic.enable unset)."""
    enable = overrides.get("critic.enable")
    return enable if enable is not None else overrides.get("algorithm.adv_estimator") == "gae"


def _resident(params: float, param_offload: bool, optimizer_offload: bool) -> float:
    """Bytes an engine keeps on the GPU between its own updates."""
    return params * ((0 if param_offload else WEIGHT_BYTES) + (0 if optimizer_offload else ADAM_BYTES))


def _updating(params: float) -> float:
    """Bytes an engine holds during its own update: everything loaded back, plus gradients."""
    return params * (WEIGHT_BYTES + GRAD_BYTES + ADAM_BYTES)


def update_peaks_gb(plan: RunPlan) -> dict[str, float] | None:
    """Per-GPU training state at each update phase, in GB; None for a model outside PARAMETERS."""
    total = PARAMETERS.get(plan.model)
    if total is None:
        return None
    o = plan.overrides
    gpus = int(o.get("trainer.n_gpus_per_node", 1)) * int(o.get("trainer.nnodes", 1))
    params = total / gpus

    def flag(key: str) -> bool:
        return bool(o.get(key, False))

    actor = _resident(
        params,
        flag("actor_rollout_ref.actor.fsdp_config.param_offload"),
        flag("actor_rollout_ref.actor.fsdp_config.optimizer_offload"),
    )
    uses_ref = flag("actor_rollout_ref.actor.use_kl_loss") or flag("algorithm.use_kl_in_reward")
    ref = (
        0
        if flag("actor_rollout_ref.ref.fsdp_config.param_offload") or not uses_ref
        else params * REF_WEIGHT_BYTES
    )
    critic = 0.0
    if has_critic(o):
        critic = _resident(params, flag("critic.fsdp.param_offload"), flag("critic.fsdp.optimizer_offload"))
    peaks = {"actor update": (_updating(params) + critic + ref) / GB}
    if has_critic(o):
        peaks["critic update"] = (_updating(params) + actor + ref) / GB
    return peaks


def checkpoint_bytes(plan: RunPlan, billions: float) -> float:
    """Disk for the checkpoints the run keeps: actor, and critic when there is one (each as large)."""
    o = plan.overrides
    # An unset limit keeps every save (verl prunes only when max_*_ckpt_to_keep is set).
    saves = max(
        1, int(o.get("trainer.total_training_steps") or 1) // max(1, int(o.get("trainer.save_freq", 1)))
    )
    kept = o.get("trainer.max_actor_ckpt_to_keep") or saves
    if has_critic(o):
        kept += o.get("trainer.max_critic_ckpt_to_keep") or saves
    return billions * 1e9 * CHECKPOINT_BYTES_PER_PARAM * kept
