"""Algorithm settings verl 0.9.1 composes but would ignore, or read differently, at run time: each is an error.

verl's schema accepts every key below; whether the trainer acts on it depends on other settings. Each rule was
read from verl 0.9.1's v1 trainer (trainer/ppo/v1/trainer_base.py, replay_buffer.py), its losses
(trainer/ppo/core_algos.py, workers/utils/losses.py), its `dapo` reward manager
(experimental/reward_loop/reward_manager/dapo.py) and its FSDP engine (workers/engine/fsdp/transformer_impl.py).
launch.verl_config.validate runs these on every composed run.

    python -m launch validate countdown-ablations
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Policy-loss settings and the one loss mode that reads each (core_algos.py).
LOSS_MODE_KEYS = {
    "clip_cov_ratio": "clip_cov",
    "clip_cov_lb": "clip_cov",
    "clip_cov_ub": "clip_cov",
    "kl_cov_ratio": "kl_cov",
    "ppo_kl_coef": "kl_cov",
    "dro_beta": "dro",
}
# Actor settings only one loss mode reads.
ACTOR_LOSS_KEYS = {"tau_pos": "sapo", "tau_neg": "sapo"}
# Losses that aggregate their own way, whatever actor.loss_agg_mode says.
FIXED_AGGREGATION = {
    "sapo": "always averages per sequence, then over sequences (seq-mean-token-mean)",
    "geo_mean": "aggregates by the geometric mean per sequence",
}
# What the `dapo` reward manager reads from reward.reward_kwargs.
DAPO_REWARD_KWARGS = {
    "max_resp_len",
    "overlong_buffer_cfg.enable",
    "overlong_buffer_cfg.len",
    "overlong_buffer_cfg.penalty_factor",
    "overlong_buffer_cfg.log",
}
# Megatron's LoRA block; the FSDP engine reads lora_rank, lora_alpha, target_modules instead (lora.merge is read
# by both).
FSDP_LORA_EQUIVALENT = {"rank": "lora_rank", "alpha": "lora_alpha", "target_modules": "target_modules"}

ACTOR = "actor_rollout_ref.actor"
ROLLOUT_CORRECTION = "algorithm.rollout_correction"


class Ignored(ValueError):
    """A setting verl 0.9.1 would ignore or read differently; the message names the key and what to do."""


def _set_keys(overrides: Mapping[str, Any]) -> set[str]:
    return {key.lstrip("+~") for key in overrides}


def check(config, overrides: Mapping[str, Any]) -> None:
    """Raises Ignored for the first setting in `overrides` that the composed `config` would not act on."""
    written = _set_keys(overrides)
    _check_policy_loss(config, written)
    _check_filter_groups(config, written)
    _check_rollout_correction(config, written)
    _check_dapo_reward(config, written)
    _check_lora(config, written)


def _check_policy_loss(config, written: set[str]) -> None:
    from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY

    actor = config.actor_rollout_ref.actor
    mode = actor.policy_loss.loss_mode
    if mode not in POLICY_LOSS_REGISTRY:
        known = ", ".join(sorted(POLICY_LOSS_REGISTRY))
        raise Ignored(
            f"'{ACTOR}.policy_loss.loss_mode={mode}' is not a policy loss verl knows; known: {known}"
        )
    for key, reader in LOSS_MODE_KEYS.items():
        if f"{ACTOR}.policy_loss.{key}" in written and mode != reader:
            raise Ignored(f"'{ACTOR}.policy_loss.{key}' is read only by loss_mode {reader}, not {mode}")
    for key, reader in ACTOR_LOSS_KEYS.items():
        if f"{ACTOR}.{key}" in written and mode != reader:
            raise Ignored(f"'{ACTOR}.{key}' is read only by loss_mode {reader}, not {mode}")
    if mode in FIXED_AGGREGATION and f"{ACTOR}.loss_agg_mode" in written:
        raise Ignored(
            f"'{ACTOR}.loss_agg_mode' is ignored by loss_mode {mode}, which {FIXED_AGGREGATION[mode]}; remove it"
        )


def _check_filter_groups(config, written: set[str]) -> None:
    groups = config.algorithm.filter_groups
    prefix = "algorithm.filter_groups."
    if not groups.enable:
        if extra := sorted(k for k in written if k.startswith(prefix) and k != prefix + "enable"):
            raise Ignored(f"'{extra[0]}' is ignored while algorithm.filter_groups.enable is false")
        return
    if not groups.metric:
        raise Ignored(
            "algorithm.filter_groups.enable needs algorithm.filter_groups.metric (acc, score, reward)"
        )
    if groups.max_num_gen_batches > 0:
        raise Ignored(
            "'algorithm.filter_groups.max_num_gen_batches' is ignored by verl 0.9.1's v1 replay buffer (it refills "
            "without a cap); bound concurrent generation with algorithm.filter_groups.max_inflight_gen_batches"
        )


def _check_rollout_correction(config, written: set[str]) -> None:
    correction = config.algorithm.rollout_correction
    wants_correction = correction.rollout_is or correction.rollout_rs or correction.bypass_mode
    if wants_correction and not config.actor_rollout_ref.rollout.calculate_log_probs:
        raise Ignored(
            f"{ROLLOUT_CORRECTION} needs the rollout's log-probs: set actor_rollout_ref.rollout.calculate_log_probs"
            "=true (without them verl skips the correction silently, or fails in bypass mode)"
        )
    if correction.bypass_mode:
        # The v1 trainer in bypass mode only swaps the old log-probs for the rollout's (trainer_base.py).
        for key, default in (("rollout_is", None), ("rollout_rs", None), ("loss_type", "ppo_clip")):
            if correction[key] != default:
                raise Ignored(
                    f"'{ROLLOUT_CORRECTION}.{key}={correction[key]}' is ignored by verl 0.9.1's v1 trainer in bypass "
                    "mode (the rollout's log-probs become the PPO old policy, nothing else); remove it"
                )
    for threshold, switch in (("rollout_is_threshold", "rollout_is"), ("rollout_rs_threshold", "rollout_rs")):
        if f"{ROLLOUT_CORRECTION}.{threshold}" in written and not correction[switch]:
            raise Ignored(
                f"'{ROLLOUT_CORRECTION}.{threshold}' is ignored while {ROLLOUT_CORRECTION}.{switch} is null"
            )


def _check_dapo_reward(config, written: set[str]) -> None:
    prefix = "reward.reward_kwargs."
    kwargs = sorted(k.removeprefix(prefix) for k in written if k.startswith(prefix))
    if not kwargs:
        return
    manager = config.reward.reward_manager.name
    if manager != "dapo":
        raise Ignored(f"'{prefix}{kwargs[0]}' is read only by the dapo reward manager, not {manager}")
    if unknown := [k for k in kwargs if k not in DAPO_REWARD_KWARGS]:
        raise Ignored(
            f"'{prefix}{unknown[0]}' is not read by the dapo reward manager; it reads {', '.join(sorted(DAPO_REWARD_KWARGS))}"
        )
    reward_kwargs = config.reward.reward_kwargs
    buffer = reward_kwargs.get("overlong_buffer_cfg", {})
    if not buffer.get("enable", False):
        return
    budget = config.data.max_response_length
    if reward_kwargs.get("max_resp_len") != budget:
        raise Ignored(
            f"'{prefix}max_resp_len={reward_kwargs.get('max_resp_len')}' must be the response budget "
            f"data.max_response_length={budget}: the dapo manager measures the overlong buffer from it"
        )
    if not 0 < buffer.get("len", 0) <= budget:
        raise Ignored(f"'{prefix}overlong_buffer_cfg.len' must be in 1..{budget} (the response budget)")


def _check_lora(config, written: set[str]) -> None:
    model = "actor_rollout_ref.model"
    if config.actor_rollout_ref.actor.strategy in ("fsdp", "fsdp2"):
        for key, equivalent in FSDP_LORA_EQUIVALENT.items():
            if f"{model}.lora.{key}" in written:
                raise Ignored(
                    f"'{model}.lora.{key}' is Megatron's; verl's FSDP engine reads '{model}.{equivalent}'"
                )
    if config.actor_rollout_ref.model.lora_rank <= 0:
        for key in ("lora_alpha", "target_modules", "exclude_modules"):
            if f"{model}.{key}" in written:
                raise Ignored(f"'{model}.{key}' is ignored while {model}.lora_rank is 0 (no LoRA)")
