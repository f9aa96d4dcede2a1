"""What a planned run needs before it starts: peak GPU memory per device in the rollout, log-prob and update
phases, the checkpoint disk it keeps (actor + critic), and a rough time per step. Validation and pre-flight
refuse a run whose peak exceeds the GPU, naming the knob to lower first (launch.validate, launch.preflight);
`python -m launch plan` prints the figures. Arithmetic from the model's config (launch.model_configs) and the
run's knobs, with constants (overhead, logit bytes, utilisation) that are guesses unless a calibration file
measured on this node's GPU model replaces them (launch.calibration, written by `make gpu-check`).

Memory, per GPU, decimal GB. verl's FSDP engines keep fp32 master weights (4 bytes per parameter) and AdamW's two
fp32 moments (8 bytes); gradients (4 bytes) exist during an update. FSDP shards all of it over every GPU of the
run. An engine moves to the CPU only what `param_offload` / `optimizer_offload` name, and loads it back for its
own phase: the weights for a forward pass, weights and optimizer for an update (workers/engine/base.py,
BaseEngineCtx), so offloading lowers what an engine holds during the *other* engines' phases, never its own
update. The reference model holds bf16 weights (2 bytes) unless offloaded. vLLM takes gpu_memory_utilization x
the GPU during rollout (its weights and KV cache) and frees it for training (free_cache_engine: sleep mode).
Activations: micro batches of at most *_max_token_len_per_gpu packed tokens (dynamic batching); bf16 logits
plus one working copy in a forward pass, plus their gradient in an update; with gradient checkpointing each
layer keeps its bf16 input and one layer's full activations exist at a time.

    python -m launch plan countdown-3b [--profile 1x24gb]     python -m pytest tests/launch/test_estimate.py
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launch import calibration
from launch.calibration import ARITHMETIC, Constants
from launch.model_configs import ModelConfig, lookup
from launch.plan import RunPlan
from launch.recipe import REPO_ROOT

WEIGHT_BYTES = 4  # fp32 master weights
GRAD_BYTES = 4
ADAM_BYTES = 8  # two fp32 moments
REF_WEIGHT_BYTES = 2  # bf16, never updated
VLLM_WEIGHT_BYTES = 2  # bf16
ACTIVATION_BYTES = 2  # bf16
# The guessed constants (logit bytes, overhead, utilisation) live in launch.calibration.Constants.
# A saved FSDP checkpoint: fp32 weights + Adam moments, plus the extra state, rounded up.
CHECKPOINT_BYTES_PER_PARAM = 16
GB = 1e9

# verl 0.9.1's defaults for the keys read here when neither recipe nor profile sets them
# (tests/launch/test_estimate.py checks them against verl's _generated_ppo_trainer.yaml).
VERL_DEFAULTS: dict[str, Any] = {
    "actor_rollout_ref.actor.ppo_max_token_len_per_gpu": 16384,
    # ${oc.select:actor_rollout_ref.actor.ppo_max_token_len_per_gpu,16384} in verl: see _tokens()
    "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu": None,
    "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu": None,
    # Not in the YAML: CriticConfig's default; v1's trainer_base.py sizes the critic's micro batches with it.
    "critic.ppo_infer_max_token_len_per_gpu": 32768,
    "actor_rollout_ref.rollout.gpu_memory_utilization": 0.5,
    "actor_rollout_ref.rollout.tensor_model_parallel_size": 2,
    "actor_rollout_ref.model.enable_gradient_checkpointing": True,
    "critic.model.enable_gradient_checkpointing": True,
    "actor_rollout_ref.rollout.free_cache_engine": True,
    "actor_rollout_ref.actor.ppo_epochs": 1,
}

# Time per step: dense bf16 peak of the GPU class a profile's memory suggests (TFLOPS), and the fraction of it
# reached. Rough: decoding is memory-bound (low utilisation), training is compute-bound.
PEAK_TFLOPS = {24: 125, 40: 312, 80: 989, 141: 989}  # A10/L4, A100-40G, H100, H200
# Responses are assumed to use half the response budget on average, prompts all of theirs.
RESPONSE_FILL = 0.5


def _setting(o: Mapping[str, Any], key: str) -> Any:
    for spelled in (key, f"+{key}"):
        if spelled in o:
            return o[spelled]
    return VERL_DEFAULTS.get(key)


def _flag(o: Mapping[str, Any], key: str) -> bool:
    return bool(_setting(o, key))


def has_critic(overrides: Mapping[str, Any]) -> bool:
    """verl's need_critic: GAE needs a value model (critic.enable unset)."""
    enable = overrides.get("critic.enable")
    return enable if enable is not None else overrides.get("algorithm.adv_estimator") == "gae"


def uses_ref(o: Mapping[str, Any]) -> bool:
    return _flag(o, "actor_rollout_ref.actor.use_kl_loss") or _flag(o, "algorithm.use_kl_in_reward")


def gpus(o: Mapping[str, Any]) -> int:
    return int(o.get("trainer.n_gpus_per_node", 1)) * int(o.get("trainer.nnodes", 1))


def _resident(params: float, param_offload: bool, optimizer_offload: bool) -> float:
    """Bytes an engine keeps on the GPU between its own phases."""
    return params * ((0 if param_offload else WEIGHT_BYTES) + (0 if optimizer_offload else ADAM_BYTES))


def _updating(params: float) -> float:
    """Bytes an engine holds during its own update: everything loaded back, plus gradients."""
    return params * (WEIGHT_BYTES + GRAD_BYTES + ADAM_BYTES)


def update_peaks_gb(plan: RunPlan) -> dict[str, float] | None:
    """Per-GPU training state (no activations) at each update phase, in GB; None for an unknown model."""
    model = lookup(plan.model)
    if model is None:
        return None
    state = _TrainingState(plan.overrides, model.parameters())
    peaks = {"actor update": (_updating(state.shard) + state.critic + state.ref) / GB}
    if has_critic(plan.overrides):
        peaks["critic update"] = (_updating(state.shard) + state.actor + state.ref) / GB
    return peaks


@dataclass(frozen=True)
class _TrainingState:
    overrides: Mapping[str, Any]
    parameters: int

    @property
    def shard(self) -> float:
        return self.parameters / gpus(self.overrides)

    @property
    def actor(self) -> float:
        o = self.overrides
        return _resident(
            self.shard,
            _flag(o, "actor_rollout_ref.actor.fsdp_config.param_offload"),
            _flag(o, "actor_rollout_ref.actor.fsdp_config.optimizer_offload"),
        )

    @property
    def ref(self) -> float:
        o = self.overrides
        off = _flag(o, "actor_rollout_ref.ref.fsdp_config.param_offload") or not uses_ref(o)
        return 0.0 if off else self.shard * REF_WEIGHT_BYTES

    @property
    def critic(self) -> float:
        o = self.overrides
        if not has_critic(o):
            return 0.0
        return _resident(
            self.shard, _flag(o, "critic.fsdp.param_offload"), _flag(o, "critic.fsdp.optimizer_offload")
        )


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


@dataclass(frozen=True)
class Phase:
    name: str  # rollout, log-prob, update
    peak_gb: float
    engine: str  # the pass that peaks: vllm, actor, ref, critic
    knob: str  # what to lower (or set) first when the phase does not fit


@dataclass(frozen=True)
class Estimate:
    run_id: str
    model: str
    parameters: int
    gpus: int
    gpu_memory_gb: float | None
    phases: tuple[Phase, ...]
    vllm_kv_tokens: int  # tokens vLLM's KV cache holds per replica after its weights
    checkpoint_gb: float
    checkpoints_kept: str
    rollout_s: float
    train_s: float
    constants: Constants = ARITHMETIC

    @property
    def peak(self) -> Phase:
        return max(self.phases, key=lambda phase: phase.peak_gb)

    def over(self) -> list[Phase]:
        """The phases over the GPU, worst first (its knob is the one to change first)."""
        if self.gpu_memory_gb is None:
            return []
        over = [phase for phase in self.phases if phase.peak_gb > self.gpu_memory_gb]
        return sorted(over, key=lambda phase: -phase.peak_gb)


class DoesNotFit(ValueError):
    """The run's estimated peak exceeds the GPU; the message names the phase and the knob to lower first."""


def _tokens(o: Mapping[str, Any], key: str) -> int:
    value = _setting(o, key)
    return int(
        value if value is not None else _setting(o, "actor_rollout_ref.actor.ppo_max_token_len_per_gpu")
    )


def _layer_bytes_per_token(m: ModelConfig) -> float:
    """One decoder layer's activations kept for backward, per token: attention 4h + 2kv (norm input, q/k/v
    input and outputs, attention output), MLP 2h + 4i (norm input, gate/up input, gate, up, act, product)."""
    return (6 * m.hidden + 2 * m.kv_dim + 4 * m.intermediate) * ACTIVATION_BYTES


def forward_bytes_per_token(m: ModelConfig, logits: bool, constants: Constants) -> float:
    """A forward pass without gradients: one layer's transient (hidden and MLP projections) plus the logits."""
    transient = (2 * m.hidden + 2 * m.intermediate) * ACTIVATION_BYTES
    return transient + (constants.logit_bytes_forward * m.vocab if logits else 0)


def update_bytes_per_token(m: ModelConfig, checkpointing: bool, logits: bool, constants: Constants) -> float:
    layers = (
        m.layers * m.hidden * ACTIVATION_BYTES + _layer_bytes_per_token(m)
        if checkpointing
        else m.layers * _layer_bytes_per_token(m)
    )
    return layers + (constants.logit_bytes_update * m.vocab if logits else 0)


@dataclass(frozen=True)
class _Pass:
    engine: str
    fixed: float  # bytes independent of the token budget
    per_token: float
    tokens: int
    token_key: str | None

    @property
    def total(self) -> float:
        return self.fixed + self.per_token * self.tokens


def _token_fix(p: _Pass, memory: float, sequence: int) -> str | None:
    """`lower KEY to <= N` when some token budget >= one whole sequence fits, else None."""
    if p.token_key is None or p.per_token == 0:
        return None
    most = int((memory - p.fixed) / p.per_token) // 1024 * 1024
    return f"lower {p.token_key} to <= {most} (now {p.tokens})" if most >= sequence else None


def _offload_fix(o: Mapping[str, Any], exclude: str) -> str | None:
    """The offload not yet set that frees the most memory in other engines' phases."""
    candidates = [
        ("actor", "actor_rollout_ref.actor.fsdp_config.optimizer_offload", True),
        ("actor", "actor_rollout_ref.actor.fsdp_config.param_offload", True),
        ("critic", "critic.fsdp.optimizer_offload", has_critic(o)),
        ("critic", "critic.fsdp.param_offload", has_critic(o)),
        ("ref", "actor_rollout_ref.ref.fsdp_config.param_offload", uses_ref(o)),
    ]
    for engine, key, applies in candidates:
        if applies and engine != exclude and not _flag(o, key):
            return f"set {key}: true"
    return None


def estimate(
    plan: RunPlan,
    gpu_memory_gb: float | None = None,
    root: Path = REPO_ROOT,
    constants: Constants | None = None,
) -> Estimate | None:
    """The run's estimate against `gpu_memory_gb` (default: its profile's); None for an unknown model.

    `constants` default: this node's GPU model's calibration file if there is one, else the arithmetic."""
    m = lookup(plan.model, root)
    if m is None:
        return None
    c = constants if constants is not None else calibration.for_this_node()
    o = plan.overrides
    memory_gb = gpu_memory_gb if gpu_memory_gb is not None else plan.profile.gpu_memory_gb
    memory = (memory_gb or 0) * GB
    state = _TrainingState(o, m.parameters())
    shard, overhead = state.shard, c.runtime_overhead_gb * GB
    critic = has_critic(o)
    sequence = int(o.get("data.max_prompt_length", 0)) + int(o.get("data.max_response_length", 0))

    # Rollout: vLLM's pool beside whatever the training engines keep on the GPU.
    utilisation = float(_setting(o, "actor_rollout_ref.rollout.gpu_memory_utilization"))
    tp = int(_setting(o, "actor_rollout_ref.rollout.tensor_model_parallel_size"))
    vllm_pool = utilisation * memory
    vllm_weights = m.parameters() * VLLM_WEIGHT_BYTES / tp
    kv_per_token = 2 * m.layers * m.kv_dim * ACTIVATION_BYTES / tp
    kv_tokens = max(0, int((vllm_pool - vllm_weights) / kv_per_token))
    resident = state.actor + state.ref + state.critic
    rollout = resident + vllm_pool + overhead
    if memory and kv_tokens < sequence:
        rollout_knob = (
            "raise actor_rollout_ref.rollout.gpu_memory_utilization or tensor_model_parallel_size: vLLM's "
            f"share ({vllm_pool / GB:.1f} GB) does not hold its weights ({vllm_weights / GB:.1f} GB) and one sequence"
        )
    else:
        room = memory - overhead - resident - vllm_weights - kv_per_token * sequence
        rollout_knob = (
            f"lower actor_rollout_ref.rollout.gpu_memory_utilization to <= {math.floor((room + vllm_weights + kv_per_token * sequence) / memory * 100) / 100:.2f} (now {utilisation:g})"
            if room > 0
            else _offload_fix(o, exclude="") or "use a profile with more GPUs"
        )
    idle_vllm = 0.0 if _flag(o, "actor_rollout_ref.rollout.free_cache_engine") else vllm_pool

    # Log-prob: the actor's old log-probs, the reference's, the critic's values, one after another.
    base = resident + idle_vllm + overhead
    offloaded = _flag(o, "actor_rollout_ref.actor.fsdp_config.param_offload")
    passes = [
        _Pass("actor", base + (shard * WEIGHT_BYTES if offloaded else 0), forward_bytes_per_token(m, True, c),
              _tokens(o, "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu"),
              "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu"),
    ]  # fmt: skip
    if uses_ref(o):
        ref_loaded = shard * REF_WEIGHT_BYTES if state.ref == 0 else 0
        passes.append(
            _Pass("ref", base + ref_loaded, forward_bytes_per_token(m, True, c),
                  _tokens(o, "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu"),
                  "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu")
        )  # fmt: skip
    critic_tokens = int(_setting(o, "critic.ppo_infer_max_token_len_per_gpu"))
    if critic:
        critic_loaded = shard * WEIGHT_BYTES if _flag(o, "critic.fsdp.param_offload") else 0
        passes.append(
            _Pass("critic", base + critic_loaded, forward_bytes_per_token(m, False, c), critic_tokens,
                  "+critic.ppo_infer_max_token_len_per_gpu")
        )  # fmt: skip
    log_prob = max(passes, key=lambda p: p.total)

    # Update: the actor's (and the critic's) full training state plus one micro batch's activations.
    updates = [
        _Pass("actor", _updating(shard) + state.ref + state.critic + idle_vllm + overhead,
              update_bytes_per_token(m, _flag(o, "actor_rollout_ref.model.enable_gradient_checkpointing"), True, c),
              _tokens(o, "actor_rollout_ref.actor.ppo_max_token_len_per_gpu"),
              "actor_rollout_ref.actor.ppo_max_token_len_per_gpu"),
    ]  # fmt: skip
    if critic:
        updates.append(
            _Pass("critic", _updating(shard) + state.ref + state.actor + idle_vllm + overhead,
                  update_bytes_per_token(m, _flag(o, "critic.model.enable_gradient_checkpointing"), False, c),
                  critic_tokens, "+critic.ppo_infer_max_token_len_per_gpu")
        )  # fmt: skip
    update = max(updates, key=lambda p: p.total)

    def fix(p: _Pass, checkpointing_key: str | None) -> str:
        found = _token_fix(p, memory, sequence)
        if found:
            return found
        if checkpointing_key and not _flag(o, checkpointing_key):
            return f"set {checkpointing_key}: true"
        if p.engine == "critic" or (p.engine == "actor" and critic):
            found = _offload_fix(o, exclude=p.engine)
            if found:
                return found
        return (
            f"the {p.engine}'s training state alone is {_updating(shard) / GB:.1f} GB per GPU: shard it over more "
            "GPUs, trainer.n_gpus_per_node (a profile with more GPUs); no token budget or offload lowers it"
        )

    update_knob = fix(
        update,
        "actor_rollout_ref.model.enable_gradient_checkpointing"
        if update.engine == "actor"
        else "critic.model.enable_gradient_checkpointing",
    )
    log_prob_knob = (
        _token_fix(log_prob, memory, sequence)
        or _offload_fix(o, exclude=log_prob.engine)
        or ("use a profile with more GPUs")
    )
    phases = (
        Phase("rollout", rollout / GB, "vllm", rollout_knob),
        Phase("log-prob", log_prob.total / GB, log_prob.engine, log_prob_knob),
        Phase("update", update.total / GB, update.engine, update_knob),
    )

    # Time: FLOPs of every forward and backward pass over the step's tokens, at an assumed utilisation.
    sequences = int(o.get("data.train_batch_size", 1)) * int(o.get("actor_rollout_ref.rollout.n", 1))
    per_sequence = int(o.get("data.max_prompt_length", 0)) + RESPONSE_FILL * int(
        o.get("data.max_response_length", 0)
    )
    tokens = sequences * per_sequence
    params = m.parameters()
    forwards = 1 + uses_ref(o) + critic
    backward = 8 if _flag(o, "actor_rollout_ref.model.enable_gradient_checkpointing") else 6
    epochs = int(_setting(o, "actor_rollout_ref.actor.ppo_epochs"))
    train_flops = 2 * params * tokens * forwards + backward * params * tokens * epochs * (1 + critic)
    peak = peak_flops(memory_gb, c) * gpus(o)
    saves = checkpoint_bytes(plan, params / 1e9)
    kept_actor = o.get("trainer.max_actor_ckpt_to_keep") or "every"
    kept = f"{kept_actor} actor" + (
        f" + {o.get('trainer.max_critic_ckpt_to_keep') or 'every'} critic" if critic else ""
    )
    return Estimate(
        run_id=plan.run_id,
        model=plan.model,
        parameters=params,
        gpus=gpus(o),
        gpu_memory_gb=memory_gb,
        phases=phases,
        vllm_kv_tokens=kv_tokens,
        checkpoint_gb=saves / GB,
        checkpoints_kept=kept,
        rollout_s=2 * params * tokens / (peak * c.rollout_mfu),
        train_s=train_flops / (peak * c.train_mfu),
        constants=c,
    )


def peak_flops(memory_gb: float | None, constants: Constants = ARITHMETIC) -> float:
    """Dense bf16 FLOP/s of one GPU: the calibrated GPU's own, else the class of the profile's memory."""
    if constants.peak_tflops is not None:
        return constants.peak_tflops * 1e12
    classes = [size for size in sorted(PEAK_TFLOPS) if memory_gb and size <= memory_gb] or [min(PEAK_TFLOPS)]
    return PEAK_TFLOPS[classes[-1]] * 1e12


def check_fits(plan: RunPlan, gpu_memory_gb: float | None = None, root: Path = REPO_ROOT) -> Estimate | None:
    """Raises DoesNotFit naming the first phase over the GPU and its knob; returns the estimate otherwise."""
    found = estimate(plan, gpu_memory_gb, root)
    if found is None or found.gpu_memory_gb is None:
        return found
    over = found.over()
    if over:
        phase = over[0]
        raise DoesNotFit(
            f"estimated peak {phase.peak_gb:.1f} GB per GPU in the {phase.name} phase ({phase.engine}) exceeds the "
            f"{found.gpu_memory_gb:g} GB GPU of profile {plan.profile.name!r}; first: {phase.knob} "
            f"({found.constants.source}, launch/estimate.py; every phase: python -m launch plan {plan.recipe.name} --profile {plan.profile.name})"
        )
    return found


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.0f} h"


def render(found: Estimate | None, plan: RunPlan) -> str:
    """The estimate lines `python -m launch plan` prints under a run."""
    if plan.profile.gpu_memory_gb is None and (found is None or found.gpu_memory_gb is None):
        return f"# {plan.run_id}: profile {plan.profile.name!r} is not a GPU profile: no GPU estimate"
    if found is None:
        return (
            f"# {plan.run_id}: no estimate: {plan.model!r} is not in launch/model_configs.py and has no local "
            "config.json"
        )
    phases = " | ".join(f"{p.name} {p.peak_gb:.1f} GB ({p.engine})" for p in found.phases)
    over = found.over()
    verdict = (
        f"DOES NOT FIT: {over[0].name}: {over[0].knob}"
        if over
        else f"fits ({found.peak.peak_gb / found.gpu_memory_gb:.0%} of the GPU at the {found.peak.name})"
    )
    steps = plan.overrides.get("trainer.total_training_steps")
    step_s = found.rollout_s + found.train_s
    total = f", ~{_duration(step_s * int(steps))} for {steps} steps" if steps else ""
    return "\n".join(
        [
            f"# {plan.run_id}: {plan.model} ({found.parameters / 1e9:.2f}B), profile {plan.profile.name} "
            f"({found.gpus} x {found.gpu_memory_gb:g} GB GPU)",
            f"#   peak GPU memory per GPU: {phases}: {verdict}",
            f"#   vLLM KV cache ~{found.vllm_kv_tokens:,} tokens; checkpoints kept ({found.checkpoints_kept}): "
            f"{found.checkpoint_gb:.0f} GB; time per step ~{_duration(step_s)} (rollout {_duration(found.rollout_s)}, "
            f"log-prob + update {_duration(found.train_s)}){total}",
        ]
    )


def assumptions(constants: Constants | None = None) -> str:
    """The header `python -m launch plan` prints above the estimates: which constants, and what they are."""
    c = constants if constants is not None else calibration.for_this_node()
    where = (
        f"constants {c.source}"
        if c.calibrated
        else "arithmetic constants\n# (no calibration file for this node's GPU: `make gpu-check` measures one)"
    )
    peak = (
        f"a {c.peak_tflops:g} TFLOPS peak"
        if c.peak_tflops
        else "the GPU class of the profile's memory (80 GB: H100)"
    )
    return "\n".join(
        [
            f"# Estimates (launch/estimate.py) from the model config and the knobs above, {where}.",
            f"# Memory per GPU includes {c.runtime_overhead_gb:g} GB of CUDA/NCCL overhead; logits take "
            f"{c.logit_bytes_forward:g} B (forward) / {c.logit_bytes_update:g} B (update)",
            f"# per token and vocabulary entry. Time assumes {peak}",
            f"# at {c.train_mfu:.0%} utilisation in training and {c.rollout_mfu:.0%} in generation, full-length "
            "prompts and responses at half the budget.",
        ]
    )
