"""Settings verl 0.9.1 composes but would not act on, each an error naming the key; the working spellings of
the same mechanisms compose and pass (launch.algorithm_checks, run by launch.verl_config.validate)."""

import pytest

from launch import verl_config
from launch.verl_config import VerlConfigError

GRPO = {
    "algorithm.adv_estimator": "grpo",
    "actor_rollout_ref.rollout.name": "vllm",
    "actor_rollout_ref.rollout.n": 8,
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": 4,
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu": 8,
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": 8,
    "actor_rollout_ref.model.path": "Qwen/Qwen2.5-3B",
    "data.max_response_length": 1024,
}
ACTOR = "actor_rollout_ref.actor"
CORRECTION = "algorithm.rollout_correction"
NO_LOG_PROBS = {"actor_rollout_ref.rollout.calculate_log_probs": False}  # verl 0.9.1 defaults to true
DAPO = {
    "reward.reward_manager.name": "dapo",
    "+reward.reward_kwargs.max_resp_len": 1024,
    "+reward.reward_kwargs.overlong_buffer_cfg.enable": True,
    "+reward.reward_kwargs.overlong_buffer_cfg.len": 256,
    "+reward.reward_kwargs.overlong_buffer_cfg.penalty_factor": 1.0,
}


@pytest.mark.parametrize(
    "working",
    [
        {f"{ACTOR}.policy_loss.loss_mode": "clip_cov", f"{ACTOR}.policy_loss.clip_cov_ratio": 0.001},
        {f"{ACTOR}.policy_loss.loss_mode": "sapo", f"{ACTOR}.tau_neg": 1.1},
        {"algorithm.filter_groups.enable": True, "algorithm.filter_groups.metric": "acc"},
        {f"{CORRECTION}.rollout_is": "token", f"{CORRECTION}.rollout_is_threshold": 2.0},
        {f"{CORRECTION}.bypass_mode": True},
        DAPO,
        {"actor_rollout_ref.model.lora_rank": 64, "actor_rollout_ref.model.lora_alpha": 32},
    ],
)
def test_the_mechanisms_spelled_as_verl_reads_them_pass(working):
    verl_config.validate({**GRPO, **working})


@pytest.mark.parametrize(
    ("ignored", "expected"),
    [
        ({f"{ACTOR}.policy_loss.loss_mode": "gspoo"}, "not a policy loss verl knows"),
        ({f"{ACTOR}.policy_loss.clip_cov_ratio": 0.001}, "read only by loss_mode clip_cov, not vanilla"),
        (
            {f"{ACTOR}.policy_loss.loss_mode": "gspo", f"{ACTOR}.policy_loss.kl_cov_ratio": 0.1},
            "kl_cov, not gspo",
        ),
        ({f"{ACTOR}.tau_pos": 2.0}, "read only by loss_mode sapo"),
        (
            {f"{ACTOR}.policy_loss.loss_mode": "sapo", f"{ACTOR}.loss_agg_mode": "token-mean"},
            "ignored by loss_mode sapo",
        ),
        (
            {f"{ACTOR}.policy_loss.loss_mode": "geo_mean", f"{ACTOR}.loss_agg_mode": "seq-mean-token-mean"},
            "geo_mean",
        ),
        ({"algorithm.filter_groups.metric": "acc"}, "ignored while algorithm.filter_groups.enable is false"),
        ({"algorithm.filter_groups.enable": True, "algorithm.filter_groups.metric": None}, "needs"),
        (
            {
                "algorithm.filter_groups.enable": True,
                "algorithm.filter_groups.metric": "acc",
                "algorithm.filter_groups.max_num_gen_batches": 10,
            },
            "max_num_gen_batches' is ignored",
        ),
        ({**NO_LOG_PROBS, f"{CORRECTION}.rollout_is": "token"}, "calculate_log_probs=true"),
        ({**NO_LOG_PROBS, f"{CORRECTION}.bypass_mode": True}, "calculate_log_probs=true"),
        ({f"{CORRECTION}.bypass_mode": True, f"{CORRECTION}.loss_type": "reinforce"}, "bypass"),
        ({f"{CORRECTION}.bypass_mode": True, f"{CORRECTION}.rollout_is": "sequence"}, "bypass"),
        (
            {f"{CORRECTION}.rollout_is_threshold": 3.0},
            "ignored while algorithm.rollout_correction.rollout_is is null",
        ),
        ({"+reward.reward_kwargs.max_resp_len": 1024}, "read only by the dapo reward manager, not naive"),
        ({**DAPO, "+reward.reward_kwargs.overlong_buffer.len": 256}, "not read by the dapo reward manager"),
        ({**DAPO, "+reward.reward_kwargs.max_resp_len": 2048}, "must be the response budget"),
        ({**DAPO, "+reward.reward_kwargs.overlong_buffer_cfg.len": 0}, "overlong_buffer_cfg.len"),
        (
            {"actor_rollout_ref.model.lora.rank": 64},
            "Megatron's; verl's FSDP engine reads 'actor_rollout_ref.model.lora_rank'",
        ),
        ({"actor_rollout_ref.model.lora_alpha": 32}, "ignored while actor_rollout_ref.model.lora_rank is 0"),
        ({"actor_rollout_ref.model.lora_rank": 1024}, "512"),
    ],
)
def test_settings_verl_would_ignore_or_read_differently_are_errors_naming_the_key(ignored, expected):
    with pytest.raises(VerlConfigError, match=expected.replace(".", r"\.").replace("(", r"\(")):
        verl_config.validate({**GRPO, **ignored})
