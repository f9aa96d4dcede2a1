"""The verl-facing config check: pinned verl, offline Hydra composition, rejected legacy/unknown keys."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_prep.templates import PASS_THROUGH_CHAT_TEMPLATE
from launch import verl_config
from launch.verl_config import VerlConfigError

GRPO = {
    "algorithm.adv_estimator": "grpo",
    "algorithm.use_kl_in_reward": False,
    "actor_rollout_ref.rollout.name": "vllm",
    "actor_rollout_ref.rollout.n": 8,
    "actor_rollout_ref.actor.use_kl_loss": True,
    "actor_rollout_ref.actor.kl_loss_type": "low_var_kl",
    "actor_rollout_ref.actor.kl_loss_coef": 0.001,
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": 4,
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu": 8,
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": 8,
    "actor_rollout_ref.model.path": "Qwen/Qwen2.5-3B",
    "actor_rollout_ref.model.custom_chat_template": PASS_THROUGH_CHAT_TEMPLATE,
    "reward.custom_reward_function.path": "/repo/rewards/verl_reward.py",
    "reward.custom_reward_function.name": "compute_score",
    "trainer.logger": ["console", "file"],
}


def test_pinned_verl_is_installed():
    import verl

    assert verl.__version__ == verl_config.PINNED_VERL_VERSION == "0.9.1"
    assert verl_config.check_verl_version() == "0.9.1"


def test_grpo_overrides_compose_offline_and_pass_verls_own_checks():
    config = verl_config.validate(GRPO)
    assert config.reward.custom_reward_function.path == "/repo/rewards/verl_reward.py"
    assert config.reward.custom_reward_function.name == "compute_score"
    assert config.actor_rollout_ref.actor.kl_loss_type == "low_var_kl"
    assert config.actor_rollout_ref.model.custom_chat_template == PASS_THROUGH_CHAT_TEMPLATE
    assert list(config.trainer.logger) == ["console", "file"]
    # The legacy block keeps its null defaults: nothing of ours leaked into the ignored namespace.
    assert config.custom_reward_function.path is None


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("actor_rollout_ref.actor.use_kl_los", "did you mean actor_rollout_ref.actor.use_kl_loss"),
        ("trainer.total_epoch", "trainer.total_epochs"),
        ("reward.custom_reward_function.paht", "reward.custom_reward_function.path"),
        ("nonsense_section.key", "'nonsense_section.key' is not a key"),
    ],
)
def test_misspelled_key_is_an_error_naming_it(key, expected):
    with pytest.raises(VerlConfigError, match=expected):
        verl_config.compose({**GRPO, key: 1})


def test_misspelled_key_also_fails_in_verls_own_hydra_composition():
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException):
        verl_config._compose_strings(["actor_rollout_ref.actor.use_kl_los=true"])


def test_legacy_reward_key_composes_in_verl_but_is_rejected_by_us():
    legacy = {"custom_reward_function.path": "/repo/rewards/verl_reward.py"}
    # verl itself accepts the legacy spelling without complaint (and then never reads it) ...
    assert verl_config._compose_strings(verl_config.to_hydra_overrides(legacy)).custom_reward_function.path
    # ... so the check is ours, and it names the key and its replacement.
    with pytest.raises(
        VerlConfigError, match=r"'custom_reward_function.path'.*reward.custom_reward_function.path"
    ):
        verl_config.compose({**GRPO, **legacy})


@pytest.mark.parametrize(
    ("key", "replacement"),
    [
        ("reward_model.reward_manager", "reward.reward_manager.name"),
        ("reward_model.enable", "reward.reward_model.enable"),
        ("custom_reward_function.name", "reward.custom_reward_function.name"),
        ("actor_rollout_ref.actor.ppo_micro_batch_size", "ppo_micro_batch_size_per_gpu"),
        ("data.val_batch_size", "validation data is sent"),
    ],
)
def test_keys_verl_ignores_or_deprecates_are_rejected(key, replacement):
    with pytest.raises(VerlConfigError, match=replacement):
        verl_config.compose({**GRPO, key: 4})


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"algorithm.adv_estimator": "grpoo"}, "adv_estimator=grpoo"),
        ({"actor_rollout_ref.rollout.name": "hf"}, "rollout.name=hf"),
        ({"actor_rollout_ref.rollout.n": 1}, "grpo needs a group"),
        (
            {"data.train_batch_size": 3, "actor_rollout_ref.rollout.n": 3, "trainer.n_gpus_per_node": 2},
            "divisible",
        ),
        (
            {"actor_rollout_ref.actor.ppo_mini_batch_size": 1024, "data.train_batch_size": 256},
            "ppo_mini_batch_size",
        ),
    ],
)
def test_semantic_errors_are_caught_before_a_gpu_is_touched(bad, expected):
    with pytest.raises(VerlConfigError, match=expected):
        verl_config.validate({**GRPO, **bad})


def test_extra_rollout_backends_can_be_allowed_explicitly():
    overrides = {**GRPO, "actor_rollout_ref.rollout.name": "hfcpu"}
    with pytest.raises(VerlConfigError):
        verl_config.validate(overrides)
    assert (
        verl_config.validate(overrides, extra_rollout_names=["hfcpu"]).actor_rollout_ref.rollout.name
        == "hfcpu"
    )


# Interpolations (`${...}`) are verl's own grammar and are meant to resolve; every other text must survive.
_texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40).filter(lambda s: "${" not in s)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(_texts, min_size=1, max_size=8), st.integers(), st.floats(allow_nan=False, allow_infinity=False)
)
def test_any_value_round_trips_through_hydras_grammar(texts, integer, number):
    config = verl_config.compose(
        {**GRPO, "+zerolab_probe": {"texts": texts, "integer": integer, "number": number}}
    )
    assert list(config.zerolab_probe.texts) == texts
    assert config.zerolab_probe.integer == integer
    assert config.zerolab_probe.number == number


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("actor_rollout_ref.rollout.val_kwargs.do_sample", False, "val_kwargs.temperature"),
        ("critic.ppo_max_token_len_per_gpu", 8192, "+critic.ppo_infer_max_token_len_per_gpu"),
        ("actor_rollout_ref.actor.fsdp_config.seed", 1, "actor_rollout_ref.actor.data_loader_seed"),
    ],
)
def test_keys_the_v1_trainer_never_reads_are_rejected_naming_the_one_that_takes_effect(key, value, named):
    with pytest.raises(VerlConfigError, match=rf"'{key}' is never read.*{named.replace('+', '[+]')}"):
        verl_config.reject_ignored_keys({key: value})


def test_the_fsdp_seed_is_accepted_where_full_determinism_reads_it():
    verl_config.reject_ignored_keys(
        {
            "actor_rollout_ref.actor.fsdp_config.seed": 1,
            "actor_rollout_ref.actor.fsdp_config.full_determinism": True,
        }
    )
